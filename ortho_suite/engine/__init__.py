"""mmengine hooks and optimizers ortho-suite registers into mmselfsup's HOOKS and OPTIMIZERS
registries (scope ``mmselfsup``)."""
from ortho_suite import compat

compat.apply()

from .hooks import (OnlineMonitorHook, RandomStateHook, TrainingDiverged,  # noqa: E402
                    TrainingRecordHook)
from .optimizers import LARSBarlowTwins, LARSSolo  # noqa: E402

__all__ = ["LARSBarlowTwins", "LARSSolo", "OnlineMonitorHook", "RandomStateHook",
           "TrainingDiverged", "TrainingRecordHook"]
