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


@HOOKS.register_module()
class OnlineMonitorHook(Hook):
    """Collapse and accuracy monitoring during pretraining, as solo-learn's online k-NN does.

    Every ``interval`` epochs the frozen encoder embeds the first ``train_samples`` training
    images and the first ``test_samples`` test images (un-augmented, the dataset's evaluation
    view); the weighted cosine k-NN top-1 (k = 200, T = 0.1) of the test images and the RankMe
    effective rank of their representations are logged (``monitor_knn_top1``,
    ``monitor_effective_rank``) and kept in ``history`` for the run summary. ``interval=0``
    disables it. Runs on the main process only.
    """

    priority = "LOW"

    def __init__(self, interval: int = 1, train_samples: int = 5000, test_samples: int = 1000,
                 k: int = 200, temperature: float = 0.1) -> None:
        self.interval, self.k, self.temperature = interval, k, temperature
        self.train_samples, self.test_samples = train_samples, test_samples
        self.history: list[dict] = []
        self._datasets = None

    def before_train(self, runner) -> None:
        from mmengine.dist import is_main_process

        if self.interval <= 0 or not is_main_process():
            return
        from ..evaluate import feature_dataset

        self._datasets = (
            feature_dataset(runner.cfg, runner.cfg.feature_data.train_split, self.train_samples),
            feature_dataset(runner.cfg, runner.cfg.feature_data.test_split, self.test_samples))

    def after_train_epoch(self, runner) -> None:
        if self._datasets is None or (runner.epoch + 1) % self.interval:
            return
        from ..evaluate import extract
        from ..evaluation import knn_accuracy
        from ..metrics import effective_rank

        model = getattr(runner.model, "module", runner.model)
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            train = extract(model, self._datasets[0], 512, device, "monitor train", progress=False)
            test = extract(model, self._datasets[1], 512, device, "monitor test", progress=False)
        finally:
            model.train(was_training)
        record = {"epoch": runner.epoch + 1,
                  "knn_top1": knn_accuracy(train["representation"], train["labels"],
                                           test["representation"], test["labels"],
                                           k=self.k, temperature=self.temperature),
                  "effective_rank": effective_rank(test["representation"])}
        self.history.append(record)
        runner.message_hub.update_scalar("train/monitor_knn_top1", record["knn_top1"])
        runner.message_hub.update_scalar("train/monitor_effective_rank", record["effective_rank"])
        runner.logger.info(f"monitor epoch {record['epoch']}: k-NN top-1 {record['knn_top1']:.2f}%, "
                           f"effective rank {record['effective_rank']:.2f}")
