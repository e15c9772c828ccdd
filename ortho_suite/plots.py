"""Figures of the collapse diagnostics (matplotlib, no display needed)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .provenance import temporary_beside  # noqa: E402


def _save(fig, path: Path) -> None:
    """Write the PNG through a temporary file and a rename: never a partial image."""
    path = Path(path)
    tmp = temporary_beside(path, suffix=".png")
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)


def plot_eigenspectra(series: dict[str, list[float]], title: str, path: Path) -> None:
    """Normalized eigenvalues against their rank, both axes logarithmic (OR paper, Figs. 3-4).

    As in the paper's figures, a line is solid when every eigenvalue is positive and dashed when
    some are not (those cannot be drawn on a log axis), and each label ends with ``_<count>``."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, values in series.items():
        v = np.asarray(values, dtype=np.float64)
        positive = v > 0
        ranks = np.arange(1, len(v) + 1)
        ax.plot(ranks[positive], v[positive], "-" if positive.all() else "--", label=f"{label}_{len(v)}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rank")
    ax.set_ylabel("normalized eigenvalue")
    ax.set_title(title)
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_filter_correlation(weight: np.ndarray, title: str, path: Path) -> None:
    """|correlation| between the filters (output channels) of one layer (OR paper, Fig. 5)."""
    rows = np.asarray(weight, dtype=np.float64).reshape(weight.shape[0], -1)
    corr = np.abs(np.corrcoef(rows))
    fig, ax = plt.subplots(figsize=(4.5, 4))
    image = ax.imshow(corr, vmin=0, vmax=1, cmap="viridis")
    fig.colorbar(image, ax=ax)
    ax.set_title(title)
    ax.set_xlabel("filter")
    ax.set_ylabel("filter")
    _save(fig, path)


def plot_log_spectrum(series: dict[str, list[float]], title: str, path: Path) -> None:
    """Log singular values of the embedding covariance against their index (DirectCLR, Fig. 2)."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    ax.set_xlabel("singular value rank")
    ax.set_ylabel("log singular value")
    ax.set_title(title)
    ax.legend(fontsize=7)
    _save(fig, path)


def stage_of(name: str) -> str | None:
    """The stage of a backbone weight: ``layerK`` of a ResNet (shortcuts excluded) or ``blocks.K``
    of a ViT; None for the stem / patch embedding."""
    if name.startswith("layer") and "downsample" not in name:
        return name.split(".")[0]
    if name.startswith("blocks."):
        return ".".join(name.split(".")[:2])
    return None


def last_conv_of_each_stage(names: list[str]) -> list[str]:
    """The last conv (ResNet) or Linear (ViT block: mlp.fc2) weight of each stage."""
    last = {}
    for name in names:
        if stage_of(name) is not None:
            last[stage_of(name)] = name
    return list(last.values())
