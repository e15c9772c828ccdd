"""The compatibility layer: each shim is needed and works."""
from __future__ import annotations

import subprocess
import sys

import torch

from ortho_suite import compat

_BUILD_LOOP = (
    "from mmselfsup.registry import LOOPS; "
    "import mmselfsup.models; "
    "print(LOOPS.get('EpochBasedTrainLoop').__name__)"
)


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                          text=True, timeout=300)


def test_without_shim_mmselfsup_loop_registry_is_broken():
    """Guards the reason the shim exists: if mmselfsup ever ships the module, drop the shim."""
    proc = _python(_BUILD_LOOP)
    assert proc.returncode != 0
    assert "No module named 'mmselfsup.engine.runner'" in proc.stderr


def test_with_shim_loop_registry_resolves():
    proc = _python("from ortho_suite import compat; compat.apply(); " + _BUILD_LOOP)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "EpochBasedTrainLoop"


def test_apply_is_idempotent():
    compat.apply()
    compat.apply()
    assert compat.MISSING_RUNNER_LOCATION in sys.modules


def test_ddp_wrapper_on_cpu_has_no_device_ids():
    assert compat.ddp_model_wrapper_cfg("cpu")["device_ids"] is None
    assert "device_ids" not in compat.ddp_model_wrapper_cfg("cuda")


def test_simclr_logits_selected_without_sync_equal_mmselfsup_masked_select():
    """The shimmed SimCLR.loss picks by gather exactly the logits mmselfsup's masks select."""
    from mmselfsup.models.algorithms.simclr import SimCLR

    from ortho_suite import compat

    n = 5
    s = torch.rand(2 * n, 2 * n, generator=torch.Generator().manual_seed(0))
    mask, pos_idx, neg_mask = SimCLR._create_buffer(n, s.device)
    off_diagonal = torch.masked_select(s, mask == 1).reshape(2 * n, -1)
    rows = torch.arange(2 * n)
    ours = s.gather(1, compat._without_column(2 * n, 2 * n, rows))
    assert torch.equal(ours, off_diagonal)
    partner = torch.div(rows, 2, rounding_mode="floor") * 2
    assert torch.equal(ours[rows, partner], off_diagonal[pos_idx])
    negatives = torch.masked_select(off_diagonal, neg_mask == 1).reshape(2 * n, -1)
    assert torch.equal(ours.gather(1, compat._without_column(2 * n, 2 * n - 1, partner)), negatives)
    compat.apply()
    assert SimCLR.loss is compat._simclr_loss_without_sync


def test_ema_update_counted_on_host_equals_mmengine_bitwise():
    """The shimmed update (host step counter, CosineEMA momentum computed once per step) moves
    the target exactly as mmengine's original update with mmselfsup's CosineEMA.avg_func, also
    across a state-dict reload (the counter is re-read from the loaded buffer)."""
    import copy

    from mmengine.logging import MessageHub
    from mmselfsup.models.utils import CosineEMA

    compat.apply()
    from mmengine.model import BaseAveragedModel

    def original(ema, model):  # mmengine 0.10's update_parameters, written out as the reference
        params = dict(model.named_parameters())
        if ema.steps == 0:
            for k, p in ema.avg_parameters.items():
                p.data.copy_(params[k].data)
        elif ema.steps % ema.interval == 0:
            for k, p in ema.avg_parameters.items():
                CosineEMA.avg_func(ema, p.data, params[k].data, ema.steps)
        for b_avg, b_src in zip(ema.module.buffers(), model.buffers()):
            b_avg.data.copy_(b_src.data)
        ema.steps += 1

    MessageHub.get_current_instance().update_info("max_iters", 7)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4))
    ours, ref = CosineEMA(model, momentum=0.9), CosineEMA(model, momentum=0.9)
    for step in range(6):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
            model[1].running_mean.add_(torch.randn(4))  # buffers are copied, not averaged
        if step == 3:  # a resume: ours reloads its own state
            ours.load_state_dict(copy.deepcopy(ours.state_dict()))
        BaseAveragedModel.update_parameters(ours, model)
        original(ref, model)
        for a, b in zip([*ours.parameters(), *ours.buffers()], [*ref.parameters(), *ref.buffers()]):
            assert torch.equal(a, b), step
        assert torch.equal(ours.module[1].running_mean, model[1].running_mean)
    assert int(ours.steps) == int(ref.steps) == 6


def test_config_text_is_yapfs_and_formatted_once_per_text(monkeypatch):
    """Shim 7: Config.pretty_text returns yapf's own formatting, and a second call on the same
    config is served from the cache instead of formatting again."""
    import mmengine.config.config as config_module
    from mmengine.config import Config
    from yapf.yapflib.yapf_api import FormatCode as yapf_format_code

    compat.apply()
    cfg = Config(dict(model=dict(type="SimCLR", widths=[8, 16, 32], neck=dict(hid=256)),
                      work_dir="/tmp/config_text_test", note="a string"))
    hits = config_module.FormatCode.cache_info().hits
    text = cfg.pretty_text
    assert cfg.pretty_text == text
    assert config_module.FormatCode.cache_info().hits == hits + 1
    monkeypatch.setattr(config_module, "FormatCode", yapf_format_code)  # mmengine's own path
    assert cfg.pretty_text == text
