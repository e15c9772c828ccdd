"""mmengine hooks ortho-suite registers into mmselfsup's HOOKS registry (scope ``mmselfsup``)."""
from ortho_suite import compat

compat.apply()

from .hooks import (OnlineMonitorHook, RandomStateHook, TrainingDiverged,  # noqa: E402
                    TrainingRecordHook)

__all__ = ["OnlineMonitorHook", "RandomStateHook", "TrainingDiverged", "TrainingRecordHook"]
