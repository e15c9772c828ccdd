"""`ortho-suite evaluate` end to end on a tiny real run, and its errors."""
from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from ortho_suite import build, features, runs
from ortho_suite.cli import main
from ortho_suite.errors import UsageError
from ortho_suite.evaluate.evaluate import evaluate_run
from ortho_suite.report.overlays import compare_spectra
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose
from ortho_suite.train import pretrain as training

from .test_algorithms import OPTIONS as METHOD_OPTIONS
from .test_algorithms import WIDTH as ALGORITHM_WIDTH

# 96 generated train images (6 iterations of 16), 96 test images of the same classes
OPTIONS = ["model.backbone.width=8", "model.neck.hid_channels=64", "model.neck.out_channels=32",
           "train_dataloader.batch_size=16", "train_dataloader.dataset.num_samples=96"]


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    dirs = {}
    for reg in ("none", "so"):
        dirs[reg] = root / reg
        training.pretrain(RunSpec("simclr", "resnet18_cifar", "synthetic", reg=reg, epochs=1, cfg_options=OPTIONS + (["model.encoder_regularizer.gamma=0.01"] if reg == "so" else [])), dirs[reg])
    return dirs


def test_evaluate_writes_every_metric_and_plot(trained_runs, tmp_path):
    out = tmp_path / "eval"
    result = evaluate_run(trained_runs["none"], out, probe_epochs=5)
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["status"] == "evaluated" and on_disk["features"]["train"] == 96
    assert on_disk["features"]["test"] == 96 and on_disk["features"]["representation_dim"] == 64
    for key in ("knn_cosine_k200_top1", "knn_euclidean_k5_top1"):
        assert 0 <= on_disk[key] <= 100
    assert on_disk["linear_probe"]["protocol"] == "or" and on_disk["linear_probe"]["epochs"] == 5
    for feature in ("representation", "embedding"):
        block = on_disk[feature]
        assert {"effective_rank", "log_ioc", "alpha_req", "collapsed_dims"} <= set(block)
        assert 1 <= block["effective_rank"] <= block["dims"]
    assert set(on_disk["hidden"]) == {"stage1", "stage2", "stage3", "stage4"}
    assert len(on_disk["weights"]) == 20 and on_disk["weights_mean_so_penalty"] > 0
    spectra = json.loads((out / "spectra.json").read_text())["normalized_eigenvalues"]
    assert spectra["representation"][0] == pytest.approx(1.0) and len(spectra["representation"]) == 64
    for name in ("weight_spectra", "feature_spectra", "filter_correlation", "log_spectrum"):
        with Image.open(out / "plots" / f"{name}.png") as image:
            assert image.format == "PNG" and image.size[0] > 100
    assert result["linear_probe"] == on_disk["linear_probe"]
    # every metric the summary, tables and leaderboard read (runs.METRICS) is where they read it
    assert runs.read_metrics(out) == on_disk
    # (but the transfer metrics, only written with --transfer: tests/test_transfer_evaluate.py)
    values = {name: runs.metric(on_disk, name) for name in runs.METRICS
              if name not in runs.TRANSFER_METRICS}
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()), values
    assert values["linear_top1"] == on_disk["linear_probe"]["top1"]


def test_features_are_extracted_once_and_reused(trained_runs, tmp_path, monkeypatch):
    evaluate_run(trained_runs["none"], tmp_path / "a", cache_dir=tmp_path / "cache", probe_epochs=1)
    calls = []
    monkeypatch.setattr(features, "extract", lambda *a, **k: calls.append(1))
    evaluate_run(trained_runs["none"], tmp_path / "b", cache_dir=tmp_path / "cache", probe_epochs=1)
    assert calls == [], "the cached features must be read, not extracted again"


def test_image_limits_take_the_first_images_and_key_the_feature_cache(trained_runs, tmp_path):
    cache = tmp_path / "cache"
    full = evaluate_run(trained_runs["none"], tmp_path / "full", cache_dir=cache, probe_epochs=1)
    whole = torch.load(cache / runs.FEATURES_FILE, weights_only=False)
    part = evaluate_run(trained_runs["none"], tmp_path / "part", cache_dir=cache, probe_epochs=1,
                        train_images=40, test_images=30)
    assert (full["features"]["train"], full["features"]["test"]) == (96, 96)
    assert (part["features"]["train"], part["features"]["test"]) == (40, 30)
    assert part["features"]["spectral_batch"] == 30
    cached = torch.load(cache / runs.FEATURES_FILE, weights_only=False)
    assert cached["images"] == {"train": 40, "test": 30}
    # the first N images of each split, in order: the same rows as in the full extraction
    for split, n in (("train", 40), ("test", 30)):
        assert torch.equal(cached[split]["representation"], whole[split]["representation"][:n])
        assert torch.equal(cached[split]["labels"], whole[split]["labels"][:n])
    # back to the whole splits: the limited cache is not taken for them
    again = evaluate_run(trained_runs["none"], tmp_path / "again", cache_dir=cache, probe_epochs=1)
    assert (again["features"]["train"], again["features"]["test"]) == (96, 96)
    assert again["knn_cosine_k200_top1"] == full["knn_cosine_k200_top1"]
    with pytest.raises(UsageError, match="--test-images must be >= 1"):
        evaluate_run(trained_runs["none"], tmp_path / "bad", test_images=0)


def test_regularized_run_has_more_orthogonal_weights(trained_runs, tmp_path):
    none = evaluate_run(trained_runs["none"], tmp_path / "none", probe_epochs=1)
    so = evaluate_run(trained_runs["so"], tmp_path / "so", probe_epochs=1)
    assert so["weights_mean_so_penalty"] < none["weights_mean_so_penalty"]
    written = compare_spectra({"none": tmp_path / "none", "so": tmp_path / "so"}, tmp_path / "cmp")
    assert any(p.name == "spectra_representation.png" for p in written)
    assert all(p.is_file() for p in written)


def test_evaluate_unknown_protocol_exits_2(trained_runs, tmp_path, capsys):
    code = main(["evaluate", "--work-dir", str(trained_runs["none"]), "--out", str(tmp_path / "o"),
                 "--protocol", "nosuch"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown probe protocol 'nosuch'" in err and "intl_cifar" in err
    assert not (tmp_path / "o").exists()


def test_augmented_imagenet_probe_on_a_fixture_tree(tmp_path):
    """The ImageNet protocol end to end: pretrain on an ImageNet-100 tree, then a probe trained on
    augmented 224 px crops through the frozen backbone and tested on centre crops."""
    from ortho_suite.datasets import imagenet100_classes

    from .fixtures import make_imagenet_tree

    make_imagenet_tree(tmp_path / "data", imagenet100_classes())
    run = tmp_path / "run"
    training.pretrain(RunSpec("simclr", "resnet18_cifar", "imagenet100", epochs=1, cfg_options=["model.backbone.width=4", "model.neck.hid_channels=32",
                                   "model.neck.out_channels=16", "train_dataloader.batch_size=50",
                                   "train_dataloader.num_workers=0",
                                   "train_dataloader.persistent_workers=False",
                                   "custom_hooks.1.interval=0"]), run, data_root=str(tmp_path / "data"))
    result = evaluate_run(run, tmp_path / "eval", protocol="imagenet", probe_epochs=1)
    assert result["linear_probe"]["protocol"] == "imagenet" and result["linear_probe"]["epochs"] == 1
    assert 0 <= result["linear_probe"]["top1"] <= 100 and result["features"]["test"] == 100


def test_augmented_protocol_is_refused_for_cifar_style_data(trained_runs, tmp_path, capsys):
    code = main(["evaluate", "--work-dir", str(trained_runs["none"]), "--out", str(tmp_path / "o"),
                 "--protocol", "imagenet"])
    err = capsys.readouterr().err
    assert code == 2 and "needs a dataset with an ImageNet-style evaluation view" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("method", sorted(METHOD_OPTIONS))
def test_every_method_gives_representations_and_embeddings_to_evaluate(method):
    """Feature extraction (`ortho-suite evaluate`) works with every method's model: the
    representation of each image, each stage's pooled output and the projector's embedding.
    SwAV's first projector (mmselfsup's SwAVNeck) took a list of crops and failed here."""
    import torch

    cfg = compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", cfg_options=ALGORITHM_WIDTH + METHOD_OPTIONS[method]), "/tmp/unused")
    torch.manual_seed(0)
    model = build.build_model(cfg).eval()
    data = build.feature_dataset(cfg, cfg.feature_data.test_split, limit=8)
    out = features.extract(model, data, 4, torch.device("cpu"), method, spectral=6, progress=False)
    assert out["representation"].shape == (8, 64) and len(out["labels"]) == 8
    assert [h.shape for h in out["hidden"].values()] == [(6, 8), (6, 16), (6, 32), (6, 64)]
    if model.with_neck:
        assert out["embedding"].shape[0] == 6 and torch.isfinite(out["embedding"]).all()
    else:
        assert out["embedding"] is None  # DirectCLR: no projector


def test_in_memory_features_sliced_from_the_arrays_equal_the_data_loaders(monkeypatch):
    """An in-memory dataset whose pipeline only packs image and label is batched from its arrays
    (no per-image pipeline); the features and labels are those of mmengine's DataLoader path,
    bitwise, with a partial last batch and the spectral subset."""
    from ortho_suite.datasets import base

    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic",
                                         cfg_options=ALGORITHM_WIDTH + ["speed.channels_last=True"]),
                                 "/tmp/unused")
    torch.manual_seed(0)
    model = build.build_model(cfg).eval()
    data = build.feature_dataset(cfg, cfg.feature_data.test_split, limit=22)
    sliced = features.extract(model, data, 8, torch.device("cpu"), "sliced", spectral=10,
                              progress=False)
    packed = []
    monkeypatch.setattr(base, "packs_only", lambda *a, **k: packed.append(1) and False)
    through_loader = features.extract(model, data, 8, torch.device("cpu"), "loader", spectral=10,
                                      progress=False)
    assert packed, "the second extraction must take the DataLoader path"
    assert torch.equal(sliced["labels"], through_loader["labels"])
    assert sliced["labels"].dtype == through_loader["labels"].dtype == torch.int64
    assert len(set(sliced["labels"].tolist())) > 1
    for key in ("representation", "embedding"):
        assert torch.equal(sliced[key], through_loader[key]), key
    for stage, value in sliced["hidden"].items():
        assert torch.equal(value, through_loader["hidden"][stage]), stage
