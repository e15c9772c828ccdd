"""mmengine Python configs, composed by :mod:`ortho_suite.train.compose`.

Layout (one fragment per axis of the experiment grid, merged in this order):

- ``methods/<method>.py``: the mmselfsup algorithm (model, neck, head) plus its schedule; each
  inherits ``_base_/default_runtime.py`` and a ``_base_/schedules/*`` file.
- ``backbones/<backbone>.py``: ``model.backbone``.
- ``datasets/<dataset>.py``: ``train_dataloader`` and ``model.data_preprocessor`` (normalization).

This package holds only data; it is never imported as code by the suite.
"""
