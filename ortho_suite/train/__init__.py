"""The ``pretrain`` stage: compose a run's config (``compose``), start it (``launch``), resume an
interrupted one (``resume``), train it and write its record (``pretrain``).

Importing the package registers the suite's mmengine hooks, optimizers and training loop
(``hooks``, ``optimizers``, ``loops``) in mmselfsup's scope; a run's config names it in ``custom_imports``.
"""
from ortho_suite import compat

compat.apply()

from . import hooks, loops, online_probe, optimizers  # noqa: E402,F401  (registers them)
