"""Overlaid eigenspectra of several evaluated runs (OR paper, Figs. 3-4): the ``compare-spectra``
command, and the summary's figures of runs that differ only in their regularizer."""
from __future__ import annotations

import json
from pathlib import Path

from .. import plots
from ..errors import UsageError
from ..runs import SPECTRA_FILE


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
    weight_keys = [f"weight/{n}" for n in plots.last_conv_of_each_stage(
        [k.split("/", 1)[1] for k in next(iter(loaded.values())) if k.startswith("weight/")])]
    written = []
    for key in keys + weight_keys:
        name = key.replace("/", "_").replace(".", "_")
        path = Path(out_dir) / f"spectra_{name}.png"
        plots.plot_eigenspectra({label: s[key] for label, s in loaded.items() if key in s}, key, path)
        written.append(path)
    return written
