"""``ortho-suite evaluate``: frozen-encoder evaluation and collapse diagnostics of a finished run.

1. Load the run's resolved config and last checkpoint (ortho_suite/runs.py).
2. Extract features once with the frozen model (no augmentation; the dataset's ``feature_data``
   view): the representation (pooled backbone output) of the train and test splits, and, on the
   first ``features.SPECTRAL_BATCH`` test images (4,096 in the OR paper), the hidden features after each
   stage and the embedding (projector output). Cached in ``cache_dir/features.pt``, keyed by the
   checkpoint's MD5; later evaluations reuse it (ortho_suite/features.py).
3. k-NN (weighted cosine k=200, T=0.1; unweighted Euclidean 5-NN), the linear probe of the chosen
   protocol (ortho_suite/probes.py; the ImageNet protocol in ``augmented_probe``), and spectra
   (float64) of every conv/linear weight of the backbone, each hidden feature, the
   representation and the embedding (``diagnostics``).
4. With ``transfer`` targets (``--transfer``): the frozen representations of each target's
   splits at the encoder's input size and the ``kornblith_lbfgs`` probe on them
   (``transfer_targets``), recorded under ``transfer``; without, nothing of it (no key).
5. Write ``out/metrics.json`` (scalars), ``out/spectra.json`` (normalized eigenvalues) and
   ``out/plots/*.png``, and copy the run's training curves (``W/curves/plots/metrics``,
   DVCLive's layout, ortho_suite/train/curves.py) to ``out/curves`` for ``dvc plots``.
"""
from __future__ import annotations

import math
import shutil
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from .. import probes, provenance
from ..build import check_data, load_frozen_model
from ..errors import UsageError
from ..features import cached_features
from ..runs import (
    DIVERGED,
    EVALUATED,
    METRICS_FILE,
    RECORD_FIELDS,
    SPECTRA_FILE,
    check_not_busy,
    load_finished_run,
)
from ..profiles import parse_targets
from .augmented_probe import augmented_probe
from .diagnostics import spectral_diagnostics, write_plots
from .transfer_targets import evaluate_targets, prepare_targets

# The training curves' folder in a work dir (ortho_suite/train/curves.py CURVES_DIR; named here
# so that the evaluation does not import the training package, which is not among its DVC deps).
CURVES_DIR = "curves"


def _finite_or_none(value):
    """JSON has no infinities or NaN: non-finite numbers are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def evaluate_run(work_dir: Path, out_dir: Path | None = None, cache_dir: Path | None = None,
                 protocol: str = "or", probe_epochs: int | None = None,
                 train_images: int | None = None, test_images: int | None = None,
                 transfer=None, transfer_root: str | Path | None = None) -> dict:
    """Evaluate a finished run; write metrics.json, spectra.json and plots; return the metrics.

    ``train_images``/``test_images``: the first N images of each split for the frozen features
    (k-NN, the linear probe on cached features, the spectra); None: the whole split.
    ``transfer``: transfer targets (catalog.TRANSFER_TARGETS; ``"a,b"`` or a list), each read
    from ``transfer_root`` as its loader reads it; every split of every target is checked before
    anything is extracted or written."""
    targets = parse_targets(transfer)
    if protocol not in probes.PROBE_PROTOCOLS:
        raise UsageError(f"unknown probe protocol {protocol!r}; valid protocols: "
                         f"{', '.join(probes.PROBE_PROTOCOLS)}")
    if probe_epochs is not None and probe_epochs < 1:
        raise UsageError(f"--probe-epochs must be >= 1, got {probe_epochs}")
    for flag, count in (("--train-images", train_images), ("--test-images", test_images)):
        if count is not None and count < 1:
            raise UsageError(f"{flag} must be >= 1 or 'all', got {count}")
    recipe = probes.PROBE_PROTOCOLS[protocol]
    if recipe.augmented and train_images is not None:
        # that probe trains on augmented views of the whole split, not on the cached features
        raise UsageError(f"probe protocol {protocol!r} trains on the whole training split; "
                         "drop --train-images or use a cached-feature protocol (or, intl_cifar)")
    work_dir = Path(work_dir)
    check_not_busy(work_dir)  # a run in progress is read by no one
    cfg, summary, checkpoint = load_finished_run(work_dir)
    out_dir = Path(out_dir) if out_dir else work_dir / "eval"
    if checkpoint is None:
        return _write_diverged(summary, out_dir, work_dir)
    cache_dir = Path(cache_dir) if cache_dir else out_dir
    if recipe.augmented and "CenterCrop" not in {t["type"] for t in cfg.feature_data.pipeline}:
        raise UsageError(f"probe protocol {protocol!r} needs a dataset with an ImageNet-style "
                         f"evaluation view (center crop); use 'or' or 'intl_cifar' for "
                         f"{cfg.ortho_suite.dataset}")
    check_data(cfg)
    prepared = prepare_targets(cfg, targets, transfer_root)  # names, root and files checked
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    start = time.perf_counter()
    model = load_frozen_model(cfg, checkpoint, device)
    feats = cached_features(model, cfg, checkpoint, cache_dir, device,
                            train_images=train_images, test_images=test_images)
    train, test = feats["train"], feats["test"]

    knn = {
        "knn_cosine_k200_top1": probes.knn_accuracy(
            train["representation"], train["labels"], test["representation"], test["labels"],
            k=200, temperature=0.1, metric="cosine", weighted=True),
        "knn_euclidean_k5_top1": probes.knn_accuracy(
            train["representation"], train["labels"], test["representation"], test["labels"],
            k=5, metric="euclidean", weighted=False),
    }
    if recipe.augmented:
        probe = augmented_probe(model, cfg, recipe, device, test, epochs=probe_epochs)
    else:
        bar = tqdm(total=probe_epochs or recipe.epochs, desc=f"linear probe ({protocol})",
                   unit="epoch", file=sys.stderr, mininterval=2.0)
        probe = probes.linear_probe(train["representation"], train["labels"],
                                    test["representation"], test["labels"], recipe,
                                    epochs=probe_epochs, progress=lambda done, total: bar.update(1))
        bar.close()

    spectra, scalars, log_spectra, weights = spectral_diagnostics(model.backbone, test)
    # after every in-domain metric, outside the global random stream: those are as without it
    transfer_records = evaluate_targets(model, prepared, device) if prepared else None

    result = {
        "status": EVALUATED,
        "run": summary.get("method") and {k: summary.get(k) for k in RECORD_FIELDS},
        "checkpoint": checkpoint.name,
        "checkpoint_md5": feats["checkpoint_md5"],
        "train_status": summary.get("status"),
        "features": {"train": len(train["labels"]), "test": len(test["labels"]),
                     "spectral_batch": len(test["hidden"]["stage1"]),
                     "representation_dim": int(train["representation"].shape[1])},
        **knn,
        "linear_probe": probe,
        # the transfer linear evaluation (only with targets: without, no key at all)
        **({"transfer": transfer_records} if transfer_records else {}),
        # the online linear probe of pretraining (ortho_suite/train/online_probe.py), as recorded
        "online_linear": summary.get("online_linear"),
        # the k-NN monitor of pretraining (train/hooks.py OnlineMonitorHook): last and best epoch
        "monitor_knn": summary.get("monitor_knn"),
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
    write_plots(out_dir / "plots", spectra, log_spectra, weights)
    copy_curves(work_dir, out_dir)
    provenance.atomic_write_json(out_dir / SPECTRA_FILE, _finite_or_none(
        {"normalized_eigenvalues": spectra, "log_singular_values": log_spectra}))
    provenance.atomic_write_json(out_dir / METRICS_FILE, _finite_or_none(result))
    return result


def copy_curves(work_dir: Path, out_dir: Path) -> None:
    """The curve files ``W/curves/plots/metrics/<group>/<name>.tsv`` -> ``out/curves/<group>/``
    (replacing what was there). A run trained before the curves existed gets a folder with a
    README saying so, so the stage's output always exists."""
    source, target = work_dir / CURVES_DIR / "plots" / "metrics", out_dir / CURVES_DIR
    tmp = out_dir / f".{CURVES_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, tmp)
    else:
        tmp.mkdir(parents=True)
        (tmp / "README.md").write_text(f"No training curves: {source} does not exist "
                                       "(a run trained before the curves were written).\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.replace(target)


def _write_diverged(summary: dict, out_dir: Path, work_dir: Path) -> dict:
    """A diverged run has NaN weights: its outputs record the divergence and nothing else (the
    tables show the cell as diverged)."""
    result = {"status": DIVERGED, "train_status": DIVERGED,
              "run": {k: summary.get(k) for k in RECORD_FIELDS},
              "diverged_at_iteration": summary.get("diverged_at_iteration"),
              "loss_last_finite": summary.get("loss_last_finite")}
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    provenance.atomic_write_text(out_dir / "plots" / "README.md",
                                 "No plots: pretraining diverged (see ../metrics.json).\n")
    provenance.atomic_write_json(out_dir / SPECTRA_FILE, {"status": "diverged"})
    copy_curves(work_dir, out_dir)  # the curves up to the divergence
    provenance.atomic_write_json(out_dir / METRICS_FILE, _finite_or_none(result))
    return result
