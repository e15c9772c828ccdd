"""Reading the DVC params file (``params.yaml``) with errors that name the file and the field."""
from __future__ import annotations

from pathlib import Path

import yaml

from . import catalog
from .errors import UsageError

RUN_FIELDS = ("method", "reg", "backbone", "dataset", "aug", "seed", "epochs", "cfg_options")


def load_params(path: str | Path) -> dict:
    """Load and validate ``path``: ``profile``, ``profile_note`` and ``runs`` with known names."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"params file {path} not found; run from the repository root or pass --params")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise UsageError(f"{path}: not valid YAML{where}; fix the syntax") from None
    if not isinstance(params, dict):
        raise UsageError(f"{path}: expected a mapping at the top level")
    for field in ("profile", "profile_note", "runs"):
        if field not in params:
            raise UsageError(f"{path}: missing field '{field}'")
    catalog.lookup("profiles", params["profile"])
    validate_runs(path, params["runs"])
    return params


def validate_runs(path: Path, runs) -> None:
    """Every run names its settings (RUN_FIELDS) with registered names."""
    if not isinstance(runs, dict) or not runs:
        raise UsageError(f"{path}: 'runs' must map run ids to run settings")
    for run_id, run in runs.items():
        if not isinstance(run, dict):
            raise UsageError(f"{path}: runs.{run_id} must be a mapping of {', '.join(RUN_FIELDS)}")
        missing = [f for f in RUN_FIELDS if f not in run]
        if missing:
            raise UsageError(f"{path}: runs.{run_id} is missing {', '.join(missing)}")
        for field, kind in (("method", "methods"), ("reg", "regularizers"),
                            ("backbone", "backbones"), ("dataset", "datasets"),
                            ("aug", "augmentations")):
            try:
                catalog.lookup(kind, run[field])
            except UsageError as err:
                raise UsageError(f"{path}: runs.{run_id}.{field}: {err}") from None
