"""The ``pretrain`` stage: compose a run's config (``compose``), start it (``launch``), resume an
interrupted one (``resume``), train it and write its record (``pretrain``).

Importing the package registers the suite's mmengine hooks and optimizers (``hooks``,
``optimizers``) in mmselfsup's scope; a run's config names it in ``custom_imports``.
"""
from ortho_suite import compat

compat.apply()

from . import hooks, optimizers  # noqa: E402,F401  (registers the hooks and optimizers)
