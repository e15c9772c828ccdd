"""Thin mmengine hooks that feed a run's record (``summary.json``)."""
from __future__ import annotations

import math

from mmengine.hooks import Hook

from mmselfsup.registry import HOOKS


@HOOKS.register_module()
class TrainingRecordHook(Hook):
    """Keeps every logged loss component of every training iteration, in order.

    ``records`` is a list of ``{"iter": i, "loss": ..., <other log vars>...}`` (floats), read by
    :mod:`ortho_suite.pretrain` to write the run summary. The runner's own log keeps smoothed
    values only; the summary needs the raw sequence (first/last loss, finiteness).
    """

    priority = "LOW"

    def __init__(self) -> None:
        self.records: list[dict] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs:
            return
        row = {"iter": runner.iter + 1}
        for name, value in outputs.items():
            row[name] = float(value.detach().mean()) if hasattr(value, "detach") else float(value)
        self.records.append(row)

    @property
    def all_finite(self) -> bool:
        return all(math.isfinite(v) for row in self.records for k, v in row.items() if k != "iter")
