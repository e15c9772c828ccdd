"""The data preprocessor that makes SSL views on the training device."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from mmselfsup.registry import MODELS

from ..augment import ViewRecipe, augment_view


@MODELS.register_module()
class SSLViewsPreprocessor(BaseDataPreprocessor):
    """uint8 images from the data loader -> augmented, normalized views, batched on the device.

    ``views``: one :class:`ortho_suite.augment.ViewRecipe` (as a dict) per view. The loader
    delivers either one image per sample (fixed-size datasets: every view is cropped and
    augmented here from it) or one pre-cropped image per view (variable-size datasets such as
    ImageNet, cropped per image on CPU; the recipes then say ``crop=False``).
    ``mean``/``std`` are per channel in [0, 1] pixel units, as the papers' code states them.
    Outside training (feature extraction) images are only normalized. ``channels_last``: return
    the views in channels-last memory format (for a channels-last model, ``speed.channels_last``).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float],
                 views: Sequence[dict] = (), non_blocking: bool = False,
                 channels_last: bool = False) -> None:
        super().__init__(non_blocking)
        self.channels_last = channels_last
        self.recipes = [ViewRecipe(**{k: tuple(v) if isinstance(v, list) else v
                                      for k, v in view.items()}) for view in views]
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), False)

    def forward(self, data: dict, training: bool = False):
        # Only the images go to the device: the per-sample data samples (labels) are read by no
        # SSL loss, and moving hundreds of them per step costs more than the step on a GPU.
        images = [x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
                  for x in self.cast_data(list(data["inputs"]))]
        if training and self.recipes:
            if len(images) == 1:
                images = images * len(self.recipes)
            elif len(images) != len(self.recipes):
                raise ValueError(f"the loader gave {len(images)} views per sample but the "
                                 f"augmentation recipe has {len(self.recipes)}")
            # mmengine runs the preprocessor inside the bf16 autocast of AmpOptimWrapper; the
            # views are made in float32 whatever the training precision.
            with torch.autocast(device_type=images[0].device.type, enabled=False):
                images = [augment_view(x, recipe) for x, recipe in zip(images, self.recipes)]
        views = [(x - self.mean) / self.std for x in images]
        if self.channels_last:
            views = [x.contiguous(memory_format=torch.channels_last) for x in views]
        return views, data.get("data_samples")
