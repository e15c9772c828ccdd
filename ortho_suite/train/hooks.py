"""Thin mmengine hooks that feed a run's record (``summary.json``) and make it resumable.

Whatever a hook keeps across iterations is saved in every checkpoint (``before_save_checkpoint``)
and restored on resume (``after_load_checkpoint``), so a run resumed after a crash writes the same
record as an uninterrupted one.
"""
from __future__ import annotations

import math
import random

import numpy as np
import torch
from mmengine.hooks import Hook, LoggerHook, RuntimeInfoHook

from mmselfsup.registry import HOOKS

STATE_KEY = "ortho_suite"  # the checkpoint entry holding the hooks' state


class TrainingDiverged(Exception):
    """Raised by :class:`TrainingRecordHook` at the first non-finite loss; ends the run."""

    def __init__(self, iteration: int, last_finite_loss: float | None) -> None:
        super().__init__(f"non-finite loss at iteration {iteration}")
        self.iteration, self.last_finite_loss = iteration, last_finite_loss


def _checkpoint_state(checkpoint: dict) -> dict:
    return checkpoint.setdefault(STATE_KEY, {})


def logs_this_iteration(runner, batch_idx: int) -> bool:
    """Whether mmengine's LoggerHook prints after this iteration: every ``interval`` iterations of
    an epoch and at the epoch's end. Only then are the step's device values read on the host."""
    interval = next((h.interval for h in runner.hooks if isinstance(h, LoggerHook)), 1)
    return (batch_idx + 1) % interval == 0 or batch_idx + 1 == len(runner.train_dataloader)


def read_rows(rows: list[dict]) -> list[dict]:
    """The values of ``rows`` (dicts of 0-d tensors or numbers) as floats, read from the device in
    one transfer (one host synchronisation for all of them)."""
    tensors = [v.detach().float().mean() for row in rows for v in row.values() if hasattr(v, "detach")]
    values = iter(torch.stack(tensors).cpu().tolist() if tensors else [])
    return [{k: next(values) if hasattr(v, "detach") else float(v) for k, v in row.items()}
            for row in rows]


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """mmengine's RuntimeInfoHook, but the step's log values reach the message hub only on the
    iterations that log (all those of the interval, in order, so the logged window means are
    unchanged). mmengine's hook turns every value into a Python float every step, which makes the
    host wait for the device each step."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[dict] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if outputs is not None:
            self._pending.append(dict(outputs))
        if logs_this_iteration(runner, batch_idx):
            for row in read_rows(self._pending):
                for key, value in row.items():
                    runner.message_hub.update_scalar(f"train/{key}", value)
            self._pending = []


@HOOKS.register_module()
class TrainingRecordHook(Hook):
    """Keeps every logged loss component of every training iteration, in order, and stops the
    run at the first non-finite one.

    ``records`` is a list of ``{"iter": i, "loss": ..., <other log vars>...}`` (floats), read by
    :mod:`ortho_suite.train.pretrain` to write the run summary. The runner's own log keeps smoothed
    values only; the summary needs the raw sequence (first/last loss, divergence). The values stay
    on the device until an iteration that logs (:func:`logs_this_iteration`, always the last of
    an epoch, before its checkpoint) or the end of training, and are read then in one transfer. A NaN or infinite loss raises
    :class:`TrainingDiverged` at that read with the exact first non-finite iteration (in a
    distributed run when any process sees one, so that all stop at the same iteration); the run
    has then trained at most one logging interval on it, and no checkpoint holds those steps.
    ``resumes`` lists the checkpoints the run was resumed from (and the damaged newer ones
    passed over, ``skipped_damaged``).
    """

    priority = "LOW"

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.resumes: list[dict] = []
        self.skipped_checkpoints: tuple[str, ...] = ()  # set by the trainer before a resume
        self._pending: list[dict] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if outputs:
            self._pending.append({"iter": runner.iter + 1, **outputs})
        if logs_this_iteration(runner, batch_idx):
            self.flush(runner)

    def flush(self, runner) -> None:
        """Read the pending values; raise :class:`TrainingDiverged` at the first non-finite one."""
        rows, self._pending = read_rows(self._pending), []
        bad = next((i for i, row in enumerate(rows)
                    if not all(math.isfinite(v) for k, v in row.items() if k != "iter")), None)
        from mmengine.dist import all_reduce, get_world_size

        if get_world_size() > 1:  # the first bad iteration of any process stops all of them
            first = torch.tensor([float(rows[bad]["iter"]) if bad is not None else math.inf],
                                 device=next(runner.model.parameters()).device)
            all_reduce(first, op="min")
            first = first.item()
            bad = next((i for i, row in enumerate(rows) if row["iter"] >= first), None)
        if bad is None:
            self.records.extend(rows)
            return
        last = rows[bad - 1]["loss"] if bad else (self.records[-1]["loss"] if self.records else None)
        self.records.extend(rows[:bad + 1])
        raise TrainingDiverged(rows[bad]["iter"], last)

    def after_train(self, runner) -> None:
        self.flush(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # Nothing is pending here: the epoch's last iteration logs, so its flush (on every process;
        # this hook runs on the main process only, where a flush's all-reduce would hang) has read
        # every step and raised at a non-finite loss before any checkpoint holds it.
        _checkpoint_state(checkpoint)["train_log"] = list(self.records)
        _checkpoint_state(checkpoint)["resumes"] = list(self.resumes)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(STATE_KEY, {})
        self.records = list(state.get("train_log", []))
        meta = checkpoint.get("meta", {})  # the runner's counters are restored after this hook
        resume = {"epoch": meta.get("epoch"), "iteration": meta.get("iter")}
        if self.skipped_checkpoints:  # newer checkpoints a crash cut short, passed over
            resume["skipped_damaged"] = list(self.skipped_checkpoints)
        self.resumes = [*state.get("resumes", []), resume]


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Saves the Python, NumPy and torch (CPU and CUDA) random states in every checkpoint and
    restores them on resume, so a resumed run draws the same augmentations and shuffles as an
    uninterrupted one (mmengine restores the seed only, which would replay epoch 1's draws)."""

    priority = "VERY_LOW"

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        _checkpoint_state(checkpoint)["rng"] = {
            "python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        rng = checkpoint.get(STATE_KEY, {}).get("rng")
        if rng is None:
            return
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"].cpu())
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])


def last_and_best(history: list[dict], metric: str) -> dict | None:
    """``{"last": ..., "best": ...}`` of per-epoch records (each naming its ``epoch``): the last
    one and the one with the highest ``metric`` (the earliest of equal ones); None when empty."""
    if not history:
        return None
    best = max(history, key=lambda row: (row[metric], -row["epoch"]))
    return {"last": dict(history[-1]), "best": dict(best)}


def summarize_monitor(history: list[dict]) -> dict | None:
    """The online k-NN monitor's record for ``summary.json``: the ``last`` monitored epoch and
    the ``best`` by k-NN top-1. ``best`` is what LightlySSL's CIFAR-10 benchmark reports
    (BenchmarkModule.max_accuracy: "the max accuracy over all epochs", benchmarks.rst)."""
    return last_and_best(history, "knn_top1")


@HOOKS.register_module()
class OnlineMonitorHook(Hook):
    """Collapse and accuracy monitoring during pretraining, as solo-learn's online k-NN does.

    Every ``interval`` epochs the frozen encoder embeds the first ``train_samples`` training
    images and the first ``test_samples`` test images (un-augmented, the dataset's evaluation
    view; None: the whole split, as LightlySSL's BenchmarkModule does every epoch); the weighted
    cosine k-NN top-1 (k = 200, T = 0.1) of the test images and the RankMe effective rank of
    their representations are logged (``monitor_knn_top1``, ``monitor_effective_rank``) and kept
    in ``history`` for the run summary (:func:`summarize_monitor`: the last and the best epoch).
    ``interval=0`` disables it. Runs on the main process only, and leaves the training bitwise
    as it is (the random state is restored after the extraction).
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
        from ..build import feature_dataset

        self._datasets = (
            feature_dataset(runner.cfg, runner.cfg.feature_data.train_split, self.train_samples),
            feature_dataset(runner.cfg, runner.cfg.feature_data.test_split, self.test_samples))

    def after_train_epoch(self, runner) -> None:
        if self._datasets is None or (runner.epoch + 1) % self.interval:
            return
        from ..features import extract
        from ..probes import knn_accuracy
        from ..spectra import effective_rank

        model = getattr(runner.model, "module", runner.model)
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            # the DataLoader draws a seed from the global generator: without the fork, the
            # training after a monitored epoch would depend on the monitor's interval
            with torch.random.fork_rng(devices=[]):
                train = extract(model, self._datasets[0], 512, device, "monitor train",
                                progress=False)
                test = extract(model, self._datasets[1], 512, device, "monitor test",
                               progress=False)
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

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        _checkpoint_state(checkpoint)["monitor"] = list(self.history)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.history = list(checkpoint.get(STATE_KEY, {}).get("monitor", []))
