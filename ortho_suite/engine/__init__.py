"""mmengine hooks ortho-suite registers into mmselfsup's HOOKS registry (scope ``mmselfsup``)."""
from ortho_suite import compat

compat.apply()

from .hooks import OnlineMonitorHook, TrainingRecordHook  # noqa: E402

__all__ = ["OnlineMonitorHook", "TrainingRecordHook"]
