"""``ortho-suite evaluate``: frozen-encoder evaluation and collapse diagnostics of a finished run.

1. Load the run's resolved config and last checkpoint.
2. Extract features once with the frozen model (no augmentation; the dataset's ``feature_data``
   view): the representation (pooled backbone output) of the train and test splits, and, on the
   first ``spectral_batch`` test images (4,096 in the OR paper), the hidden features after each
   stage (global-average pooled: the paper does not say how it reduces feature maps, and
   flattened maps are too wide to diagonalize; a ViT's hidden features are its CLS token after
   each block, ``feature_stages`` of ortho_suite/models/vit.py) and the embedding (projector
   output). Cached in ``cache_dir/features.pt``, keyed by the checkpoint's MD5; later
   evaluations reuse it.
3. k-NN (weighted cosine k=200, T=0.1; unweighted Euclidean 5-NN), the linear probe of the chosen
   protocol, and spectra (float64) of every conv/linear weight of the backbone, each hidden
   feature, the representation and the embedding.
4. Write ``out/metrics.json`` (scalars), ``out/spectra.json`` (normalized eigenvalues) and
   ``out/plots/*.png``.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch
from mmengine.config import Config
from tqdm import tqdm

from . import evaluation, metrics, plots, pretrain, provenance
from .errors import UsageError
from .regularizers import regularized_weights, so_penalty

SPECTRAL_BATCH = 4096
METRICS_FILE = "metrics.json"
SPECTRA_FILE = "spectra.json"


def _finite_or_none(value):
    """JSON has no infinities or NaN: non-finite numbers are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def load_run(work_dir: Path):
    """(config, summary, checkpoint path) of a finished pretraining run; the checkpoint is None
    for a diverged run (nothing to evaluate)."""
    work_dir = Path(work_dir)
    config_path, summary_path = work_dir / pretrain.CONFIG_FILE, work_dir / pretrain.SUMMARY_FILE
    if not config_path.is_file() or not summary_path.is_file():
        raise UsageError(f"{work_dir} is not a finished run (needs {pretrain.CONFIG_FILE} and "
                         f"{pretrain.SUMMARY_FILE}); run (or resume) 'ortho-suite pretrain' there first")
    summary = json.loads(summary_path.read_text())
    if summary.get("status") == "diverged":
        return Config.fromfile(str(config_path)), summary, None
    checkpoint = pretrain.latest_checkpoint(work_dir)
    if checkpoint is None:
        raise UsageError(f"no checkpoint in {work_dir}; run 'ortho-suite pretrain' there again")
    return Config.fromfile(str(config_path)), summary, checkpoint


def build_frozen_model(cfg: Config, checkpoint: Path, device: torch.device):
    model = pretrain.build_model(cfg)
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model.load_state_dict(state["state_dict"], strict=True)
    return model.to(device).eval()


def feature_dataset(cfg: Config, split: str, limit: int | None = None):
    """The run's dataset, split ``split``, with the evaluation view; the whole split (not the
    training subset) unless ``limit`` takes its first images."""
    from mmengine.registry import DefaultScope

    from mmselfsup.registry import DATASETS

    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg.pop("indices", None)
    if limit is not None:
        dataset_cfg.indices = limit
    dataset_cfg.split = split
    dataset_cfg.pipeline = cfg.feature_data.pipeline
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return DATASETS.build(dataset_cfg)


def sample_labels(samples) -> torch.Tensor:
    """Class labels of a batch of packed data samples (mmselfsup stores them as LabelData)."""
    return torch.as_tensor([int(s.gt_label.value) for s in samples])


@torch.no_grad()
def extract(model, dataset, batch_size: int, device: torch.device, desc: str,
            spectral: int = 0, progress: bool = True) -> dict:
    """Representations of every image; for the first ``spectral`` images also each stage's pooled
    output and the projector's embedding."""
    from mmengine.dataset import default_collate

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                         num_workers=0, collate_fn=default_collate)
    backbone = model.backbone
    saved_indices = backbone.out_indices
    # every stage (a backbone may name its own, e.g. a ViT's blocks); the last is the representation
    backbone.out_indices = getattr(backbone, "feature_stages", (1, 2, 3, 4))
    reps, labels, hidden, embeds = [], [], None, []
    seen = 0
    try:
        for data in tqdm(loader, desc=desc, unit="batch", file=sys.stderr, mininterval=2.0,
                         disable=not progress):
            views, samples = model.data_preprocessor(data, training=False)
            stages = backbone(views[0])
            pooled = [s.mean(dim=(2, 3)) for s in stages]
            reps.append(pooled[-1].float().cpu())
            labels.append(sample_labels(samples))
            if seen < spectral:
                take = min(spectral - seen, len(pooled[-1]))
                if hidden is None:
                    hidden = [[] for _ in pooled]
                for store, p in zip(hidden, pooled):
                    store.append(p[:take].double().cpu())
                if getattr(model, "neck", None) is not None:
                    embeds.append(model.neck((stages[-1][:take],))[0].double().cpu())
                seen += take
    finally:
        backbone.out_indices = saved_indices
    out = {"representation": torch.cat(reps), "labels": torch.cat(labels)}
    if hidden is not None:
        out["hidden"] = {f"stage{i + 1}": torch.cat(h) for i, h in enumerate(hidden)}
        out["embedding"] = torch.cat(embeds) if embeds else None
    return out


def cached_features(model, cfg: Config, checkpoint: Path, cache_dir: Path, device,
                    batch_size: int = 512) -> dict:
    key = provenance.file_md5(checkpoint)
    path = cache_dir / "features.pt"
    if path.is_file():
        cached = torch.load(path, map_location="cpu", weights_only=False)
        if cached.get("checkpoint_md5") == key:
            return cached
    train = extract(model, feature_dataset(cfg, cfg.feature_data.train_split), batch_size,
                    device, "features train")
    test = extract(model, feature_dataset(cfg, cfg.feature_data.test_split), batch_size, device,
                   "features test", spectral=SPECTRAL_BATCH)
    features = {"checkpoint_md5": key, "train": train, "test": test}
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / ".features.pt.tmp"
    torch.save(features, tmp)
    tmp.replace(path)
    return features


def augmented_probe(model, cfg: Config, protocol: evaluation.ProbeProtocol, device,
                    test: dict, epochs: int | None = None, seed: int = 0) -> dict:
    """A linear head on the frozen backbone, trained on freshly augmented images every epoch
    (random resized crop of the evaluation size and flip), tested on the cached features of the
    evaluation view (``test``: representation and labels)."""
    import torch.nn.functional as F
    from mmengine.dataset import default_collate

    test_pipeline = cfg.feature_data.pipeline
    crop = next(t for t in test_pipeline if t["type"] == "CenterCrop")["crop_size"]
    train_cfg = cfg.copy()
    train_cfg.feature_data = dict(cfg.feature_data, pipeline=[
        test_pipeline[0],
        dict(type="RandomResizedCrop", size=crop, backend="pillow"),
        dict(type="RandomFlip", prob=0.5),
        test_pipeline[-1]])
    train_set = feature_dataset(train_cfg, cfg.feature_data.train_split)
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=protocol.batch_size, shuffle=True,
                                         num_workers=0, collate_fn=default_collate,
                                         generator=generator)
    num_classes = len(train_set.metainfo["classes"])
    head = torch.nn.Linear(test["representation"].shape[1], num_classes).to(device)
    with torch.no_grad():  # N(0, 0.01) weights and zero bias, as MoCo's main_lincls
        head.weight.copy_(torch.randn(head.weight.shape, generator=generator) * 0.01)
        head.bias.zero_()
    opt = torch.optim.SGD(head.parameters(), lr=protocol.lr, momentum=protocol.momentum,
                          weight_decay=protocol.weight_decay)
    total = epochs or protocol.epochs
    loss = torch.tensor(float("nan"))
    for epoch in tqdm(range(total), desc=f"linear probe ({protocol.name})", unit="epoch",
                      file=sys.stderr, mininterval=2.0):
        for group in opt.param_groups:
            group["lr"] = evaluation.lr_at(protocol, epoch * protocol.epochs / total)
        for data in loader:
            with torch.no_grad():
                views, samples = model.data_preprocessor(data, training=False)
                feats = model.backbone(views[0])[-1].mean(dim=(2, 3))
            labels = sample_labels(samples).to(device)
            loss = F.cross_entropy(head(feats), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        scores = head(test["representation"].to(device)).cpu()
    result = evaluation.topk_accuracy(scores, test["labels"])
    result.update(protocol=protocol.name, epochs=total, final_train_loss=loss.item())
    return result


def _scalars(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "normalized_eigenvalues"}


def evaluate_run(work_dir: Path, out_dir: Path | None = None, cache_dir: Path | None = None,
                 protocol: str = "or", probe_epochs: int | None = None) -> dict:
    """Evaluate a finished run; write metrics.json, spectra.json and plots; return the metrics."""
    if protocol not in evaluation.PROBE_PROTOCOLS:
        raise UsageError(f"unknown probe protocol {protocol!r}; valid protocols: "
                         f"{', '.join(evaluation.PROBE_PROTOCOLS)}")
    if probe_epochs is not None and probe_epochs < 1:
        raise UsageError(f"--probe-epochs must be >= 1, got {probe_epochs}")
    work_dir = Path(work_dir)
    cfg, summary, checkpoint = load_run(work_dir)
    out_dir = Path(out_dir) if out_dir else work_dir / "eval"
    if checkpoint is None:
        return _write_diverged(summary, out_dir)
    cache_dir = Path(cache_dir) if cache_dir else out_dir
    recipe = evaluation.PROBE_PROTOCOLS[protocol]
    if recipe.augmented and "CenterCrop" not in {t["type"] for t in cfg.feature_data.pipeline}:
        raise UsageError(f"probe protocol {protocol!r} needs a dataset with an ImageNet-style "
                         f"evaluation view (center crop); use 'or' or 'intl_cifar' for "
                         f"{cfg.ortho_suite.dataset}")
    pretrain.check_data(cfg)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    start = time.perf_counter()
    model = build_frozen_model(cfg, checkpoint, device)
    feats = cached_features(model, cfg, checkpoint, cache_dir, device)
    train, test = feats["train"], feats["test"]

    knn = {
        "knn_cosine_k200_top1": evaluation.knn_accuracy(
            train["representation"], train["labels"], test["representation"], test["labels"],
            k=200, temperature=0.1, metric="cosine", weighted=True),
        "knn_euclidean_k5_top1": evaluation.knn_accuracy(
            train["representation"], train["labels"], test["representation"], test["labels"],
            k=5, metric="euclidean", weighted=False),
    }
    if recipe.augmented:
        probe = augmented_probe(model, cfg, recipe, device, test, epochs=probe_epochs)
    else:
        bar = tqdm(total=probe_epochs or recipe.epochs, desc=f"linear probe ({protocol})",
                   unit="epoch", file=sys.stderr, mininterval=2.0)
        probe = evaluation.linear_probe(train["representation"], train["labels"],
                                        test["representation"], test["labels"], recipe,
                                        epochs=probe_epochs,
                                        progress=lambda done, total: bar.update(1))
        bar.close()

    spectra, scalars = {}, {}
    weights = regularized_weights(model.backbone)
    for name, weight in tqdm(weights, desc="weight spectra", unit="layer", file=sys.stderr,
                             mininterval=2.0):
        w = metrics.weight_as_samples(weight.detach().double().cpu())
        s = metrics.spectrum_summary(w)
        spectra[f"weight/{name}"] = s["normalized_eigenvalues"]
        scalars[f"weight/{name}"] = {**_scalars(s), "so_penalty": float(so_penalty(weight.detach().double()))}
    features = {**{f"hidden/{k}": v for k, v in test["hidden"].items()},
                "representation": test["hidden"][f"stage{len(test['hidden'])}"]}
    if test.get("embedding") is not None:
        features["embedding"] = test["embedding"]
    for name, x in features.items():
        s = metrics.spectrum_summary(x)
        spectra[name] = s["normalized_eigenvalues"]
        scalars[name] = _scalars(s)
    log_spectra = {name: metrics.embedding_log_spectrum(features[name]).tolist()
                   for name in ("representation", "embedding") if name in features}

    result = {
        "status": "evaluated",
        "run": summary.get("method") and {k: summary.get(k) for k in
                                          ("method", "reg", "backbone", "dataset", "aug", "seed")},
        "checkpoint": checkpoint.name,
        "checkpoint_md5": feats["checkpoint_md5"],
        "train_status": summary.get("status"),
        "features": {"train": len(train["labels"]), "test": len(test["labels"]),
                     "spectral_batch": len(test["hidden"]["stage1"]),
                     "representation_dim": int(train["representation"].shape[1])},
        **knn,
        "linear_probe": probe,
        "representation": scalars["representation"],
        "embedding": scalars.get("embedding"),
        "hidden": {k.split("/", 1)[1]: v for k, v in scalars.items() if k.startswith("hidden/")},
        "weights": {k.split("/", 1)[1]: v for k, v in scalars.items() if k.startswith("weight/")},
        "weights_mean_so_penalty": sum(v["so_penalty"] for k, v in scalars.items()
                                       if k.startswith("weight/")) / len(weights),
        "wall_time_s": round(time.perf_counter() - start, 3),
        "hardware": provenance.hardware(),
        "git_commit": provenance.git_commit(),
    }
    _write_plots(out_dir / "plots", spectra, log_spectra, weights)
    provenance.atomic_write_json(out_dir / SPECTRA_FILE, _finite_or_none(
        {"normalized_eigenvalues": spectra, "log_singular_values": log_spectra}))
    provenance.atomic_write_json(out_dir / METRICS_FILE, _finite_or_none(result))
    return result


def _write_diverged(summary: dict, out_dir: Path) -> dict:
    """A diverged run has NaN weights: its outputs record the divergence and nothing else (the
    tables show the cell as diverged)."""
    result = {"status": "diverged", "train_status": "diverged",
              "run": {k: summary.get(k) for k in ("method", "reg", "backbone", "dataset", "aug", "seed")},
              "diverged_at_iteration": summary.get("diverged_at_iteration"),
              "loss_last_finite": summary.get("loss_last_finite")}
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    provenance.atomic_write_text(out_dir / "plots" / "README.md",
                                 "No plots: pretraining diverged (see ../metrics.json).\n")
    provenance.atomic_write_json(out_dir / SPECTRA_FILE, {"status": "diverged"})
    provenance.atomic_write_json(out_dir / METRICS_FILE, _finite_or_none(result))
    return result


def _stage_of(name: str) -> str | None:
    """The stage of a backbone weight: ``layerK`` of a ResNet (shortcuts excluded) or ``blocks.K``
    of a ViT; None for the stem / patch embedding."""
    if name.startswith("layer") and "downsample" not in name:
        return name.split(".")[0]
    if name.startswith("blocks."):
        return ".".join(name.split(".")[:2])
    return None


def _last_conv_of_each_stage(names: list[str]) -> list[str]:
    """The last conv (ResNet) or Linear (ViT block: mlp.fc2) weight of each stage."""
    last = {}
    for name in names:
        if _stage_of(name) is not None:
            last[_stage_of(name)] = name
    return list(last.values())


def _write_plots(plot_dir: Path, spectra: dict, log_spectra: dict, weights) -> None:
    weight_names = [name for name, _ in weights]
    chosen = _last_conv_of_each_stage(weight_names)
    plots.plot_eigenspectra({_stage_of(n): spectra[f"weight/{n}"] for n in chosen},
                            "weights: last conv of each stage", plot_dir / "weight_spectra.png")
    plots.plot_eigenspectra({k.split("/")[-1]: v for k, v in spectra.items()
                             if not k.startswith("weight/")},
                            "features (first test batch)", plot_dir / "feature_spectra.png")
    if chosen:
        last = dict(weights)[chosen[-1]]
        plots.plot_filter_correlation(last.detach().cpu().numpy(), f"|corr| of {chosen[-1]} filters",
                                      plot_dir / "filter_correlation.png")
    plots.plot_log_spectrum(log_spectra, "log singular values (L2-normalized)",
                            plot_dir / "log_spectrum.png")


def compare_spectra(work_dirs: dict[str, Path], out_dir: Path, eval_subdir: str | None = None) -> list[Path]:
    """Overlay figures (OR paper, Figs. 3-4) of several evaluated runs: one per feature and per
    stage's last conv layer. ``work_dirs`` maps a label to the folder holding spectra.json."""
    loaded = {}
    for label, folder in work_dirs.items():
        path = Path(folder) / (eval_subdir or "") / SPECTRA_FILE
        if not path.is_file():
            raise UsageError(f"{path} not found; run 'ortho-suite evaluate' for {folder} first")
        loaded[label] = json.loads(path.read_text())["normalized_eigenvalues"]
    keys = [k for k in next(iter(loaded.values())) if not k.startswith("weight/")]
    weight_keys = [f"weight/{n}" for n in _last_conv_of_each_stage(
        [k.split("/", 1)[1] for k in next(iter(loaded.values())) if k.startswith("weight/")])]
    written = []
    for key in keys + weight_keys:
        name = key.replace("/", "_").replace(".", "_")
        path = Path(out_dir) / f"spectra_{name}.png"
        plots.plot_eigenspectra({label: s[key] for label, s in loaded.items() if key in s}, key, path)
        written.append(path)
    return written
