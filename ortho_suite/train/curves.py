"""Training curves as DVC plots: a DVCLive-format writer run as an mmengine hook.

Every training iteration's logged loss terms (``loss``, the method's own terms, ``reg_penalty``
of an OR run), the learning rate of the step, and the online monitor's k-NN top-1 and effective
rank after each monitored epoch are written to ``W/curves/`` in DVCLive's layout
(``plots/metrics/<group>/<name>.tsv``, tab-separated ``step`` and value, step = training
iteration; ``metrics.json``: the last value of each), which ``dvc plots show`` draws
(dvc.yaml: the evaluate stage copies the folder to ``results/<profile>/runs/<run>/curves``).

Why not mmengine's ``DVCLiveVisBackend`` or a ``dvclive.Live`` object: the backend runs
``dvc init -f --no-scm`` outside a Git repository, creates a DVC experiment at the end
(``save_dvc_exp=True``: ``dvc exp save`` outside a pipeline), caches images and logs the config
files as artefacts; and ``Live()`` itself opens the DVC repository and imports DVC, about 2.7 s
of imports and 5 s in all per run on the 2-core CI machine (measured 2026-12-03), where a smoke
run trains in about 25 s. This writer produces the same files byte for byte as
``dvclive.Live.log_metric(..., timestamp=False)`` and ``make_summary()`` would
(``tests/test_curves.py`` checks it against dvclive), with no timestamp column, so the curves
are deterministic.

The values are the ones :class:`~ortho_suite.train.hooks.TrainingRecordHook` and
:class:`~ortho_suite.train.hooks.OnlineMonitorHook` already read (nothing is read from the
device here, so the step stays free of host synchronisation); the files are appended once per
epoch and rewritten whole after a resume, so a resumed run's curves equal an uninterrupted one's.
Main process only.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

CURVES_DIR = "curves"
STATE_KEY = "ortho_suite_curves"
# online monitor record fields -> curve names
MONITOR_FIELDS = {"knn_top1": "monitor/knn_top1", "effective_rank": "monitor/effective_rank"}


def _format(value) -> str:
    """A value as csv.DictWriter writes it (str() of a float)."""
    return str(value)


class CurveWriter:
    """DVCLive's on-disk metrics format in ``directory``: one TSV per curve and a summary."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.latest: dict[str, object] = {}
        self.step = 0

    def reset(self) -> None:
        """Remove earlier curves (as ``dvclive.Live(resume=False)`` does)."""
        import shutil

        shutil.rmtree(self.dir / "plots" / "metrics", ignore_errors=True)
        (self.dir / "metrics.json").unlink(missing_ok=True)
        self.latest = {}

    def log_rows(self, rows: list[tuple[int, str, float]]) -> None:
        """Append ``(step, name, value)`` rows, grouped per file (one open per file)."""
        by_name: dict[str, list[tuple[int, float]]] = {}
        for step, name, value in rows:
            by_name.setdefault(name, []).append((step, value))
        for name, points in by_name.items():
            path = self.dir / "plots" / "metrics" / f"{name}.tsv"
            path.parent.mkdir(parents=True, exist_ok=True)
            existed = path.exists()
            with open(path, "a", encoding="utf-8", newline="") as f:
                if not existed:
                    f.write(f"step\t{os.path.basename(name)}{os.linesep}")
                f.writelines(f"{s}\t{_format(v)}{os.linesep}" for s, v in points)
            self.latest[name] = points[-1][1]
            self.step = max(self.step, points[-1][0])

    def make_summary(self) -> None:
        """``metrics.json`` as dvclive writes it: nested by the curve's path, plus ``step``."""
        summary: dict = {}
        for name, value in self.latest.items():
            node = summary
            *parents, leaf = os.path.normpath(name).split(os.path.sep)
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        summary["step"] = self.step
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "metrics.json", "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=4)  # as dvclive.serialize.dump_json
            f.write("\n")


def record_rows(records: list[dict]) -> list[tuple[int, str, float]]:
    """TrainingRecordHook rows -> curve rows ``train/<term>`` at their iteration."""
    return [(int(row["iter"]), f"train/{key}", value)
            for row in records for key, value in row.items() if key != "iter"]


@HOOKS.register_module()
class TrainingCurvesHook(Hook):
    """Writes the run's training curves to ``W/curves`` (module docstring). ``dir``: the folder,
    relative to the work dir."""

    priority = "VERY_LOW"  # after TrainingRecordHook's flush and OnlineMonitorHook's record

    def __init__(self, dir: str = CURVES_DIR) -> None:  # noqa: A002 - dvclive's name
        self.subdir = dir
        self.lr: list[tuple[int, float]] = []  # (iteration, lr of its step)
        self._written_records = 0
        self._written_lr = 0
        self._written_monitor = 0
        self._resumed = False
        self.writer: CurveWriter | None = None

    def before_train(self, runner) -> None:
        from mmengine.dist import is_main_process

        if not is_main_process():
            return
        self.writer = CurveWriter(Path(runner.work_dir) / self.subdir)
        self.writer.reset()  # a new run, or a resumed one: written again from the restored state
        self._written_records = self._written_lr = self._written_monitor = 0
        self._write(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        lrs = runner.optim_wrapper.get_lr()  # host floats (as RuntimeInfoHook's train/lr)
        values = lrs.get("lr") or next(iter(lrs.values()), [])
        if values:
            self.lr.append((runner.iter + 1, float(values[0])))

    def after_train_epoch(self, runner) -> None:
        self._write(runner)

    def after_train(self, runner) -> None:
        self._write(runner)  # a diverged run's last rows

    def _write(self, runner) -> None:
        if self.writer is None:
            return
        from .hooks import OnlineMonitorHook, TrainingRecordHook

        rows = []
        record = next((h for h in runner.hooks if isinstance(h, TrainingRecordHook)), None)
        if record is not None:
            rows += record_rows(record.records[self._written_records:])
            self._written_records = len(record.records)
        rows += [(step, "train/lr", value) for step, value in self.lr[self._written_lr:]]
        self._written_lr = len(self.lr)
        monitor = next((h for h in runner.hooks if isinstance(h, OnlineMonitorHook)), None)
        if monitor is not None:
            per_epoch = max(1, len(runner.train_dataloader))
            for entry in monitor.history[self._written_monitor:]:
                step = int(entry["epoch"]) * per_epoch
                rows += [(step, name, entry[key]) for key, name in MONITOR_FIELDS.items()
                         if entry.get(key) is not None]
            self._written_monitor = len(monitor.history)
        if rows or not (self.writer.dir / "metrics.json").exists():
            self.writer.log_rows(rows)
            self.writer.make_summary()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[STATE_KEY] = {"lr": list(self.lr)}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.lr = [tuple(p) for p in checkpoint.get(STATE_KEY, {}).get("lr", [])]
