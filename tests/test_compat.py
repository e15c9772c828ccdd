"""The compatibility layer: each shim is needed and works."""
from __future__ import annotations

import subprocess
import sys

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
