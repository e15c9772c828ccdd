"""Overlaid eigenspectra of several evaluated runs (OR paper, Figs. 3-4): the ``compare-spectra``
command, and the summary's figures of runs that differ only in their regularizer."""
from __future__ import annotations

import json
from pathlib import Path

from .. import plots
from ..errors import UsageError
from ..runs import CONFIG_FILE, RUNS_DIR, SPECTRA_FILE, SUMMARY_FILE

# Where ``ortho-suite evaluate --work-dir W`` writes without --out: W/eval
# (ortho_suite/evaluate/evaluate.py).
DEFAULT_EVAL_SUBDIR = "eval"
# The DVC pipeline's layout (dvc.yaml): the run of work dir <root>/work_dirs/<profile>/<run> is
# evaluated into <root>/results/<profile>/runs/<run>.
WORK_DIRS, RESULTS = "work_dirs", "results"


def evaluation_candidates(folder: Path) -> list[Path]:
    """The folders that may hold the evaluation of ``folder``, in the order they are tried:
    the folder itself (an evaluation folder), then, for a pretraining work dir, its default
    evaluation folder and the DVC pipeline's one."""
    folder = Path(folder)
    candidates = [folder, folder / DEFAULT_EVAL_SUBDIR]
    absolute = folder.resolve()
    if len(absolute.parts) >= 3 and absolute.parent.parent.name == WORK_DIRS:
        root, profile, run = absolute.parent.parent.parent, absolute.parent.name, absolute.name
        candidates.append(root / RESULTS / profile / RUNS_DIR / run)
    return candidates


def evaluation_folder(label: str, folder: Path) -> Path:
    """The evaluation folder (holding spectra.json) of ``folder``, which may be an evaluation
    folder or a pretraining work dir; a UsageError naming every place looked at otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--runs {label}={folder}: no such folder; pass a work dir or an "
                         f"evaluation folder (the --out of 'ortho-suite evaluate')")
    candidates = evaluation_candidates(folder)
    for candidate in candidates:
        if (candidate / SPECTRA_FILE).is_file():
            return candidate
    looked = ", ".join(str(c / SPECTRA_FILE) for c in candidates)
    if (folder / CONFIG_FILE).is_file() or (folder / SUMMARY_FILE).is_file():
        fix = (f"{folder} is a work dir whose evaluation was not found: pass its evaluation folder "
               f"(the --out given to 'ortho-suite evaluate') or run 'ortho-suite evaluate "
               f"--work-dir {folder}' first")
    else:
        fix = ("pass an evaluation folder (the --out of 'ortho-suite evaluate') or a pretraining "
               "work dir")
    raise UsageError(f"--runs {label}={folder}: no {SPECTRA_FILE} in {looked}; {fix}")


def _read_spectra(label: str, folder: Path) -> dict:
    path = folder / SPECTRA_FILE
    try:
        return json.loads(path.read_text())["normalized_eigenvalues"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UsageError(f"--runs {label}: {path} is damaged; run 'ortho-suite evaluate' for "
                         "that run again") from None


def compare_spectra(folders: dict[str, Path], out_dir: Path) -> list[Path]:
    """Overlay figures (OR paper, Figs. 3-4) of several evaluated runs: one per feature and per
    stage's last conv layer. ``folders`` maps a label to an evaluation folder or a work dir
    (see :func:`evaluation_folder`). Everything is read before the first figure is written."""
    loaded = {label: _read_spectra(label, evaluation_folder(label, folder))
              for label, folder in folders.items()}
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
