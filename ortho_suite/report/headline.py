"""The headline metrics of a profile, the DVC metric of the pipeline (``dvc metrics show``).

One small flat file per run, ``<results>/headline/<run-id>.json``, holding the run's status and a
handful of scalars (names from runs.METRICS): DVC shows one row per metrics file and one column
per key, so one file per run with the same keys gives one row per run, a few columns wide. The
full records (arrays, per-layer spectra, per-table scores) stay in their own files, DVC outputs
but not DVC metrics.
"""
from __future__ import annotations

from .. import runs as run_record
from .matching import RunRecord

HEADLINE_DIR = "headline"
# Metrics of runs.METRICS in every headline file, in this order.
HEADLINE_METRICS = ("linear_top1", "knn200_cosine_top1", "repr_effective_rank",
                    "repr_collapsed_dims", "weights_mean_so_penalty")
# How the results page heads and formats each: metric -> (header, format).
HEADLINE_DISPLAY = {"linear_top1": ("Linear top-1", ".2f"),
                    "knn200_cosine_top1": ("k-NN top-1 (cosine, k=200)", ".2f"),
                    "repr_effective_rank": ("Effective rank", ".2f"),
                    "repr_collapsed_dims": ("Collapsed dims", ".0f"),
                    "weights_mean_so_penalty": ("Mean SO penalty of the weights", ".4g")}


def headline(run: RunRecord) -> dict:
    """``status`` (evaluated, diverged, missing, ...) and the headline metrics of an evaluated
    run (absent otherwise: never a made-up value)."""
    record = {"status": run.status}
    if run.status == run_record.EVALUATED:
        for name in HEADLINE_METRICS:
            value = run_record.metric(run.metrics, name)
            if value is not None:
                record[name] = value
    return record
