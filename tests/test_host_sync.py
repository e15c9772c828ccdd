"""The training step never makes the host wait for the device outside a logging iteration.

On a GPU the host must queue step k + 1 while the device computes step k; every read of a device
value (``.item()``, ``.cpu()``, ``nonzero``, a Python ``bool`` of a tensor, ``tolist``) stops the
host until the queue drains. On CPU nothing waits, but the same calls are visible: the real
Runner path (composed config, mmengine Runner and hooks, data loader, SSLViewsPreprocessor, the
mmselfsup algorithm, the optimizer wrapper) runs a few iterations under ``torch.profiler`` and
with the Python-level reads counted, and the iterations that do not log must contain none.
"""
from __future__ import annotations

import contextlib

import pytest
import torch
from mmengine.hooks import Hook

from ortho_suite.runs import RunSpec
from ortho_suite.train import compose, launch
from ortho_suite.train import pretrain as training

# aten ops that read a tensor's value on the host (the device sync points)
SYNC_OPS = ("aten::nonzero", "aten::item", "aten::_local_scalar_dense", "aten::is_nonzero")
# Python-level reads that on a GPU copy to the host; on CPU they launch no aten op, so they are
# counted by wrapping the methods
SYNC_METHODS = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__")
LOG_INTERVAL = 10
BATCH, ITERATIONS = 8, 12  # one epoch: iterations 10 and 12 log, 2..9 must be quiet
QUIET = range(2, LOG_INTERVAL)


class _Window:
    """Marks iterations 2..9 for the profiler and switches the method counters on in them."""

    def __init__(self) -> None:
        self.active, self.calls, self._range = False, [], None

    def begin(self, runner) -> None:
        if runner.iter + 1 == QUIET[0]:
            self.active = True
            self._range = torch.profiler.record_function("quiet_iterations")
            self._range.__enter__()

    def end(self, runner) -> None:
        if runner.iter + 1 == QUIET[-1]:
            self._range.__exit__(None, None, None)
            self.active = False


class _First(Hook):
    priority = "HIGHEST"

    def __init__(self, window: _Window) -> None:
        self.window = window

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.window.begin(runner)


class _Last(Hook):
    priority = "LOWEST"

    def __init__(self, window: _Window) -> None:
        self.window = window

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.window.end(runner)


@contextlib.contextmanager
def _counting(window: _Window):
    originals = {name: getattr(torch.Tensor, name) for name in SYNC_METHODS}

    def wrap(name, fn):
        def counted(self, *args, **kwargs):
            if window.active:
                window.calls.append(name)
            return fn(self, *args, **kwargs)
        return counted

    for name, fn in originals.items():
        setattr(torch.Tensor, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(torch.Tensor, name, fn)


@pytest.mark.parametrize("method,reg", [("simclr", "so"), ("byol", "srip"), ("barlowtwins", "none")])
def test_no_host_sync_in_iterations_that_do_not_log(method, reg, tmp_path):
    options = ["model.backbone.width=4", "model.neck.hid_channels=32", "model.neck.out_channels=16",
               f"train_dataloader.batch_size={BATCH}",
               f"train_dataloader.dataset.num_samples={BATCH * ITERATIONS}",
               f"default_hooks.logger.interval={LOG_INTERVAL}"]
    cfg = compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", reg=reg, epochs=1,
                                         cfg_options=options), tmp_path / "run")
    runner = launch.build_runner(cfg)
    window = _Window()
    runner.register_hook(_First(window))
    runner.register_hook(_Last(window))
    with _counting(window), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        summary = training.train(runner, cfg)
    assert summary["status"] == "finished" and summary["iterations"] == ITERATIONS
    events = prof.events()
    (quiet,) = [e for e in events if e.name == "quiet_iterations"]
    inside = [e for e in events if quiet.time_range.start <= e.time_range.start <= quiet.time_range.end]
    ops = {e.name for e in inside}
    assert "aten::convolution" in ops  # the window really holds training steps
    syncs = sorted({e.name for e in inside if e.name in SYNC_OPS})
    def chain(e):
        names = []
        while e is not None:
            names.append(e.name); e = e.cpu_parent
        return " < ".join(names[:8])
    assert syncs == [] and window.calls == [], (syncs, sorted(set(window.calls)), sorted({chain(e) for e in inside if e.name in SYNC_OPS}))
    # the logging iterations still read the losses: the check above sees what it looks for
    assert len(summary["train_log"]) == ITERATIONS
