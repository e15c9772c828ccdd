"""Any mmselfsup algorithm with a regularizer on its encoder: ``type='EncoderRegularized'``.

A config names the algorithm and the regularizer side by side, and every other key is the
algorithm's own, so ``--cfg-options model.backbone.width=16`` keeps working::

    model = dict(type='EncoderRegularized', algorithm='BYOL',
                 encoder_regularizer=dict(kind='so', gamma=1e-6),
                 backbone=..., neck=..., head=...)

The built model *is* an instance of the algorithm (a subclass of it with
:class:`EncoderRegularizationMixin`), so its state dict, checkpoints and attributes
(``backbone``, ``neck``, ``target_net``...) are exactly the algorithm's.

Losses returned by ``loss()``: ``loss_ssl`` (the algorithm's own loss), ``loss_reg``
(gamma * penalty) and ``reg_penalty`` (the unweighted penalty, logged, not optimized). mmengine
sums the keys containing ``loss`` into the optimized and logged total ``loss``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mmselfsup.registry import MODELS

from ..catalog import REGULARIZERS
from ..regularizers import ORTHOGONALITY_KINDS, orthogonality_penalty, whitening_penalty
from .precision import trunk_only_autocast


@dataclass(frozen=True)
class EncoderRegularizerSpec:
    """``kind``: none | so | srip (OR paper, Sec. 4) | whitening (the paper's Table 1 baseline).

    ``gamma``: weight of the penalty in the loss. ``power_iters``: SRIP's power-iteration
    products (an integer >= 1; default 2, the paper's estimator, which underestimates the
    spectral norm by about 30% on random weights: ortho_suite/regularizers.py; more products
    converge to it). ``--cfg-options model.encoder_regularizer.power_iters=N`` sets it.
    ``cov_ratio``: for whitening, the covariance term's weight relative to the variance term.
    """

    kind: str = "none"
    gamma: float | None = None
    power_iters: int = 2
    cov_ratio: float = 0.004

    def __post_init__(self):
        if self.kind not in REGULARIZERS:
            raise ValueError(f"unknown encoder regularizer {self.kind!r}; "
                             f"valid: {', '.join(REGULARIZERS)}")
        if self.kind != "none" and (self.gamma is None or self.gamma < 0):
            raise ValueError(f"encoder regularizer {self.kind!r} needs gamma >= 0, got {self.gamma}")
        if isinstance(self.power_iters, bool) or not isinstance(self.power_iters, int) \
                or self.power_iters < 1:
            raise ValueError(f"model.encoder_regularizer.power_iters must be an integer >= 1 "
                             f"(SRIP's power-iteration products), got {self.power_iters!r}")


class EncoderRegularizationMixin:
    """Adds ``gamma * penalty`` to an mmselfsup algorithm's loss.

    - ``so`` / ``srip``: :func:`ortho_suite.regularizers.orthogonality_penalty` over
      ``self.backbone`` only; projector, predictor, heads and momentum copies live outside it.
    - ``whitening``: the OR paper's Table 1 baseline (Sec. 5): VICReg's variance and covariance
      terms on the predictor's output, weighted gamma and gamma * cov_ratio (0.004 in the paper);
      each view's terms are averaged (variance) or summed (covariance) as in VICReg's code.
    """

    def __init__(self, *args, encoder_regularizer: dict | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.encoder_regularizer = EncoderRegularizerSpec(**(encoder_regularizer or {}))
        self._predictor_outputs: list[torch.Tensor] | None = None
        if self.encoder_regularizer.kind == "whitening":
            predictor = getattr(getattr(self, "head", None), "predictor", None)
            if predictor is None:
                raise ValueError(f"the whitening regularizer acts on a predictor's output; "
                                 f"{type(self).__name__} has no head.predictor")
            predictor.register_forward_hook(self._keep_predictor_output)

    channels_last = False  # set by EncoderRegularized (speed.channels_last)

    def init_weights(self) -> None:
        """The algorithm's initialisation, drawn in the standard (contiguous) layout: an in-place
        random init fills a tensor in memory order, so on channels-last weights the same draws
        would land on other elements, and a channels-last run would start from other weights
        than the same run without it."""
        if not self.channels_last:
            return super().init_weights()
        self.to(memory_format=torch.contiguous_format)
        super().init_weights()
        self.to(memory_format=torch.channels_last)

    def _keep_predictor_output(self, module, args, output) -> None:
        if self._predictor_outputs is not None:
            self._predictor_outputs.append(output[0] if isinstance(output, (list, tuple)) else output)

    def encoder_penalty(self) -> torch.Tensor:
        spec = self.encoder_regularizer
        return orthogonality_penalty(self.backbone, spec.kind, power_iters=spec.power_iters)

    def loss(self, inputs, data_samples, **kwargs):
        spec = self.encoder_regularizer
        self._predictor_outputs = [] if spec.kind == "whitening" else None
        try:
            # Under bf16 autocast only the backbone runs in bf16 (ortho_suite/models/precision.py).
            with trunk_only_autocast(inputs[0].device.type):
                losses = super().loss(inputs, data_samples, **kwargs)
            outputs = self._predictor_outputs
        finally:
            self._predictor_outputs = None
        losses = {("loss_ssl" if name == "loss" else name): value for name, value in losses.items()}
        if spec.kind in ORTHOGONALITY_KINDS:
            penalty = self.encoder_penalty()
        elif spec.kind == "whitening":
            penalty = whitening_penalty(outputs, spec.cov_ratio)
        else:
            return losses
        losses["loss_reg"] = spec.gamma * penalty
        losses["reg_penalty"] = penalty.detach()
        return losses


_REGULARIZED_CLASSES: dict[type, type] = {}


def regularized_class(algorithm_cls: type) -> type:
    """The subclass of ``algorithm_cls`` with :class:`EncoderRegularizationMixin` (cached)."""
    if algorithm_cls not in _REGULARIZED_CLASSES:
        _REGULARIZED_CLASSES[algorithm_cls] = type(
            algorithm_cls.__name__, (EncoderRegularizationMixin, algorithm_cls),
            {"__module__": __name__, "__doc__": algorithm_cls.__doc__})
    return _REGULARIZED_CLASSES[algorithm_cls]


@MODELS.register_module()
def EncoderRegularized(algorithm: str, encoder_regularizer: dict | None = None,  # noqa: N802
                       channels_last: bool = False, **kwargs):
    """Build mmselfsup algorithm ``algorithm`` (a registered name) with an encoder regularizer.

    ``channels_last``: keep 4-D weights in channels-last memory format (faster convolutions on
    GPUs with tensor cores, and on CPU for narrow networks; the views must be channels-last too,
    see SSLViewsPreprocessor); the weights are initialised as without it."""
    algorithm_cls = MODELS.get(algorithm)
    if algorithm_cls is None:
        raise KeyError(f"{algorithm!r} is not a registered mmselfsup algorithm")
    model = regularized_class(algorithm_cls)(encoder_regularizer=encoder_regularizer, **kwargs)
    if channels_last:
        model.channels_last = True
        model.to(memory_format=torch.channels_last)
    return model
