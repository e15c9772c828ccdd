"""Profiles: which runs a `dvc repro` trains, from a CPU smoke check to the papers' schedules.

A profile is a file ``benchmarks/profiles/<name>.yaml`` (summary, whether its numbers can be
compared to the published protocols, evaluation settings, runs). DVC cannot choose the runs of a
``foreach`` by another parameter, so the active profile is written into ``params.yaml`` by
``ortho-suite profile <name>``; the run settings there may then be edited (``dvc exp run -S``), but
the run ids must stay the profile's, which :func:`check_params` enforces before rendering.

A profile may give ``seeds`` (a list): every run of it is then trained once per seed, as
``<run id>_s<seed>`` (:func:`profile_runs`), and gives no ``seed`` of its own; the paper tables
average the seeds of a cell and pair them for a claim (ortho_suite/report/verdicts.py).

``params.yaml`` and the profile files are read here, with errors that name the file and the field.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from . import catalog
from .errors import UsageError, read_yaml, unknown_name
from .provenance import atomic_write_text
from .runs import RunSpec, spec_from_params

PROFILE_FIELDS = ("summary", "comparable", "note", "eval", "runs")
# Optional fields of a profile file.
OPTIONAL_PROFILE_FIELDS = ("seeds",)

PARAMS_HEADER = """\
# Parameters of the DVC pipeline (dvc.yaml), written by `ortho-suite profile {name}` from
# benchmarks/profiles/{name}.yaml. `dvc repro` trains and evaluates every run below, then renders
# results/{name}/ (tables, leaderboard). Run settings may be edited here or with
# `dvc exp run -S runs.<id>.<field>=...`; changing one run re-runs only that run and the renderers.
# To switch profile run `ortho-suite profile <name>` (not `-S profile=...`: DVC cannot re-select
# the runs of a foreach from another parameter).
# `launch` says how this machine starts each pretraining run (README: Distributed runs), e.g.
#   prefix: torchrun --standalone --nproc_per_node 8 --no-python, launcher: pytorch
#   prefix: srun --ntasks 8 --gres gpu:8, launcher: slurm
# it is kept when another profile is selected.
"""

# One process, no launcher: what every profile runs with unless the machine says otherwise.
DEFAULT_LAUNCH = {"prefix": "", "launcher": "none"}


def profile_path(name: str, directory: str | Path = "benchmarks/profiles") -> Path:
    catalog.lookup("profiles", name)
    path = Path(directory) / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"profile file {path} not found; run from the repository root")
    return path


def validate_runs(path: Path, runs) -> dict[str, RunSpec]:
    """The RunSpec of every run of a params or profile file (errors name the file and field)."""
    if not isinstance(runs, dict) or not runs:
        raise UsageError(f"{path}: 'runs' must map run ids to run settings")
    return {run_id: spec_from_params(path, run_id, run) for run_id, run in runs.items()}


def load_params(path: str | Path) -> dict:
    """Load and validate ``params.yaml``: ``profile``, ``profile_note`` and ``runs`` with known
    names; ``specs`` is added, the RunSpec of every run."""
    path = Path(path)
    params = read_yaml(path, "params file", "run from the repository root or pass --params")
    if not isinstance(params, dict):
        raise UsageError(f"{path}: expected a mapping at the top level")
    for field in ("profile", "profile_note", "runs"):
        if field not in params:
            raise UsageError(f"{path}: missing field '{field}'")
    catalog.lookup("profiles", params["profile"])
    return {**params, "specs": validate_runs(path, params["runs"])}


def seed_run_id(run_id: str, seed: int) -> str:
    """The id of one seed of a run of a profile with ``seeds``."""
    return f"{run_id}_s{seed}"


def expand_seeds(path: Path, runs, seeds) -> dict:
    """The runs of a profile file, one per seed of ``seeds`` when the profile gives them (the
    seed put where params.yaml has it, after ``aug``); ``runs`` as written without."""
    if seeds is None:
        return runs
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise UsageError(f"{path}: seeds: expected a list of distinct non-negative integers, "
                         f"got {seeds!r}")
    if not isinstance(runs, dict) or not runs:
        raise UsageError(f"{path}: 'runs' must map run ids to run settings")
    expanded = {}
    for run_id, run in runs.items():
        if isinstance(run, dict) and "seed" in run:
            raise UsageError(f"{path}: runs.{run_id}.seed: the profile's seeds {seeds} give the "
                             f"seeds; remove it")
        for seed in seeds:
            new_id = seed_run_id(run_id, seed)
            if new_id in runs or new_id in expanded:
                raise UsageError(f"{path}: runs.{run_id}: seed {seed} would be run {new_id!r}, "
                                 f"which another run already is; rename one")
            if not isinstance(run, dict):
                expanded[new_id] = run  # validate_runs names the problem
                continue
            fields = list(run)
            at = fields.index("aug") + 1 if "aug" in fields else len(fields)
            expanded[new_id] = {**{k: run[k] for k in fields[:at]}, "seed": seed,
                                **{k: run[k] for k in fields[at:]}}
    return expanded


def profile_runs(profile: dict) -> dict:
    """The runs a profile trains: one per seed when it gives ``seeds``, else as written."""
    return expand_seeds(Path(f"{profile['name']}.yaml"), profile["runs"], profile.get("seeds"))


def load_profile(name: str, directory: str | Path = "benchmarks/profiles") -> dict:
    """A profile file, validated; ``runs`` as written (one entry per cell when the profile
    gives ``seeds``): :func:`profile_runs` gives the runs it trains."""
    path = profile_path(name, directory)
    data = read_yaml(path)
    allowed = (*PROFILE_FIELDS, *OPTIONAL_PROFILE_FIELDS)
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of {', '.join(PROFILE_FIELDS)}")
    for key in PROFILE_FIELDS:
        if key not in data:
            raise UsageError(f"{path}: missing field '{key}'")
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise UsageError(f"{path}: unknown field '{extra[0]}'; allowed: {', '.join(allowed)}")
    if not isinstance(data["comparable"], bool):
        raise UsageError(f"{path}: comparable: expected true or false")
    validate_runs(path, expand_seeds(path, data["runs"], data.get("seeds")))
    return {"name": name, **data}


# The images of a split the evaluation's frozen features use: all of them, or the first N.
ALL_IMAGES = "all"
EVAL_FIELDS = ("protocol", "probe_epochs", "train_images", "test_images", "transfer",
               "transfer_root")


def image_count(value) -> int | None:
    """``'all'`` -> None, a positive integer (or its text) -> that integer; else a UsageError."""
    if value == ALL_IMAGES:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"expected a positive number of images or '{ALL_IMAGES}', got {value!r}")
    return value


def parse_targets(value) -> tuple[str, ...]:
    """``"food101,dtd"`` or ``["food101", "dtd"]`` -> the names, in order; None or "" -> ().
    UsageError for an unknown, empty or repeated name."""
    if value is None:
        return ()
    if isinstance(value, str):
        if not value.strip():
            return ()
        names = [name.strip() for name in value.split(",")]
    elif isinstance(value, (list, tuple)):
        names = [name.strip() if isinstance(name, str) else name for name in value]
    else:
        raise UsageError(f"transfer targets: expected NAME[,NAME...] or a list of names, got "
                         f"{value!r}")
    for name in names:
        if not isinstance(name, str) or not name:
            raise UsageError(f"transfer targets: empty or non-text name in {value!r}; give "
                             f"NAME[,NAME...] of {', '.join(catalog.TRANSFER_TARGETS)}")
        if name not in catalog.TRANSFER_TARGETS:
            raise unknown_name("transfer target", name, catalog.TRANSFER_TARGETS)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"transfer target {repeated[0]!r} is named twice")
    return tuple(names)


def eval_settings(path: Path, settings) -> dict:
    """A profile's ``eval`` section with every field the evaluate stages' command uses:
    ``protocol`` (the linear probe's, ortho_suite/probes.py), ``probe_epochs`` (default: the
    protocol's own length; a profile may shorten the probe, its schedule scaling along, and its
    note must then say so) and ``train_images``/``test_images`` (default: all; a profile may take
    the first N images of a split, and its note must then say so); ``transfer``, optional, the
    targets of the transfer linear evaluation (catalog.TRANSFER_TARGETS, a list in the profile,
    comma-joined in params.yaml, '' for none: evaluate --transfer) and ``transfer_root``, the
    folder of their data (evaluate --transfer-root; needed with targets, '' without)."""
    from .probes import PROBE_PROTOCOLS  # torch: only when a params file is written

    if not isinstance(settings, dict) or "protocol" not in settings:
        raise UsageError(f"{path}: eval: expected a mapping with 'protocol'")
    extra = sorted(set(settings) - set(EVAL_FIELDS))
    if extra:
        raise UsageError(f"{path}: eval: unknown field '{extra[0]}'; allowed: "
                         f"{', '.join(EVAL_FIELDS)}")
    protocol = settings["protocol"]
    if protocol not in PROBE_PROTOCOLS:
        raise UsageError(f"{path}: eval.protocol: unknown probe protocol {protocol!r}; valid "
                         f"protocols: {', '.join(PROBE_PROTOCOLS)}")
    epochs = settings.get("probe_epochs", PROBE_PROTOCOLS[protocol].epochs)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise UsageError(f"{path}: eval.probe_epochs: expected a positive integer, got {epochs!r}")
    out = {"protocol": protocol, "probe_epochs": epochs}
    for field in ("train_images", "test_images"):
        value = settings.get(field, ALL_IMAGES)
        try:
            image_count(value)
        except UsageError as error:
            raise UsageError(f"{path}: eval.{field}: {error}") from None
        out[field] = value
    transfer = settings.get("transfer", [])
    if not isinstance(transfer, list):
        raise UsageError(f"{path}: eval.transfer: expected a list of transfer targets, got "
                         f"{transfer!r}")
    try:
        targets = parse_targets(transfer)
    except UsageError as error:
        raise UsageError(f"{path}: eval.transfer: {error}") from None
    root = settings.get("transfer_root", "")
    if not isinstance(root, str):
        raise UsageError(f"{path}: eval.transfer_root: expected a folder path, got {root!r}")
    if targets and not root:
        raise UsageError(f"{path}: eval.transfer names targets but no eval.transfer_root; give "
                         "the folder holding their data (README: Transfer and detection)")
    out["transfer"], out["transfer_root"] = ",".join(targets), root
    return out


def params_of(profile: dict, launch: dict | None = None) -> dict:
    """The params.yaml of a profile. Every run names its ``recipe`` (its own, else its
    variant's, else the default: runs.spec_from_params), which the pretrain stages pass on."""
    path = Path(f"{profile['name']}.yaml")
    runs = profile_runs(profile)
    specs = validate_runs(path, runs)
    return {"profile": profile["name"], "profile_summary": profile["summary"],
            "profile_note": profile["note"], "comparable": profile["comparable"],
            "eval": eval_settings(path, profile["eval"]),
            "launch": dict(launch or DEFAULT_LAUNCH),
            "runs": {run_id: {**run, "recipe": specs[run_id].recipe}
                     for run_id, run in runs.items()}}


def _current_launch(params_path: Path) -> dict | None:
    """The ``launch`` section of an existing params file (a machine setting, not a profile's)."""
    if not params_path.is_file():
        return None
    try:
        launch = (yaml.safe_load(params_path.read_text()) or {}).get("launch")
    except (yaml.YAMLError, AttributeError):
        return None
    return launch if isinstance(launch, dict) and set(launch) == set(DEFAULT_LAUNCH) else None


def write_params(name: str, params_path: str | Path = "params.yaml",
                 directory: str | Path = "benchmarks/profiles") -> dict:
    """Make ``name`` the active profile: rewrite ``params_path`` from its profile file, keeping
    its ``launch`` section."""
    params = params_of(load_profile(name, directory), _current_launch(Path(params_path)))
    text = PARAMS_HEADER.format(name=name) + yaml.safe_dump(params, sort_keys=False, width=100)
    atomic_write_text(Path(params_path), text)
    return params


def check_params(params_path: str | Path, directory: str | Path = "benchmarks/profiles") -> dict:
    """Load ``params.yaml`` and check that its runs are the active profile's (by id)."""
    params = load_params(params_path)
    profile = load_profile(params["profile"], directory)
    strangers = sorted(set(params["runs"]) - set(profile_runs(profile)))
    if strangers:
        raise UsageError(f"{params_path}: run {strangers[0]!r} is not in profile "
                         f"{params['profile']!r}; run 'ortho-suite profile {params['profile']}' to "
                         f"select the profile's runs")
    return params
