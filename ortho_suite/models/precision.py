"""Mixed precision limited to the encoder trunk: the backbone runs in bf16, the rest in fp32.

mmengine's ``AmpOptimWrapper`` (``speed.bf16=True``) autocasts the whole training forward. For
SSL that is too much: mmselfsup's SimCLR computes its N x N cosine logits inside the algorithm,
INTL iterates Newton steps on a Gram matrix, W-MSE factorizes one; bfloat16 keeps 8 significant
bits, so between 8 and 16 its values are 0.0625 apart and a cosine logit / 0.1 near 10 is rounded
by up to 0.03. :func:`trunk_only_autocast` turns autocast off
around an algorithm's loss and :func:`backbone_autocast` turns it back on inside backbone
forwards only, where nearly all of the FLOPs are; their outputs are returned in float32, so
projectors, predictors, losses and penalties see float32.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools

import torch

# (device_type, dtype) of the autocast that trunk_only_autocast suspended, or None.
_TRUNK_AUTOCAST: contextvars.ContextVar = contextvars.ContextVar("trunk_autocast", default=None)


@contextlib.contextmanager
def trunk_only_autocast(device_type: str):
    """Inside: no autocast, except in forwards decorated with :func:`backbone_autocast`, which
    use the autocast dtype active on entry. Without an active autocast: no effect."""
    if not torch.is_autocast_enabled(device_type):
        yield
        return
    token = _TRUNK_AUTOCAST.set((device_type, torch.get_autocast_dtype(device_type)))
    try:
        with torch.autocast(device_type=device_type, enabled=False):
            yield
    finally:
        _TRUNK_AUTOCAST.reset(token)


def _to_float32(outputs):
    if isinstance(outputs, torch.Tensor):
        return outputs.float() if outputs.is_floating_point() else outputs
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(_to_float32(o) for o in outputs)
    return outputs


def backbone_autocast(forward):
    """Decorator for a backbone's ``forward``: under :func:`trunk_only_autocast`, run it in the
    suspended autocast dtype and return float32 outputs; otherwise call it unchanged."""
    @functools.wraps(forward)
    def wrapper(self, *args, **kwargs):
        suspended = _TRUNK_AUTOCAST.get()
        if suspended is None:
            return forward(self, *args, **kwargs)
        device_type, dtype = suspended
        with torch.autocast(device_type=device_type, dtype=dtype):
            return _to_float32(forward(self, *args, **kwargs))

    return wrapper
