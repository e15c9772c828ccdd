"""A generated, labelled image dataset held in memory: for tests and pipeline checks only.

It is not a benchmark: no number measured on it is comparable to anything published. It exists
so that the whole training path (data pipeline, mmselfsup algorithm, mmengine Runner, DVC stage)
can run in seconds without any download. Images carry a class signal (a smooth per-class colour
pattern under noise, random shifts and brightness), so a representation can learn something
that k-NN evaluation can detect.
"""
from __future__ import annotations

import numpy as np

from mmselfsup.registry import DATASETS

from .base import ArrayImageDataset


def make_synthetic_images(num_samples: int, num_classes: int = 10, image_size: int = 32,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic images ``[N, H, W, 3]`` (uint8, RGB) and labels ``[N]`` (int64)."""
    if num_samples < 1 or num_classes < 1 or image_size < 4:
        raise ValueError("need num_samples >= 1, num_classes >= 1 and image_size >= 4")
    rng = np.random.default_rng(seed)
    # One smooth pattern per class: a 4x4x3 grid of colours, upsampled to the image size.
    coarse = rng.uniform(0.0, 255.0, size=(num_classes, 4, 4, 3))
    reps = -(-image_size // 4)
    prototypes = np.repeat(np.repeat(coarse, reps, axis=1), reps, axis=2)[:, :image_size, :image_size]
    labels = rng.integers(0, num_classes, size=num_samples)
    shifts = rng.integers(-image_size // 8, image_size // 8 + 1, size=(num_samples, 2))
    gains = rng.uniform(0.7, 1.3, size=(num_samples, 1, 1, 1))
    noise = rng.normal(0.0, 25.0, size=(num_samples, image_size, image_size, 3))
    images = np.empty((num_samples, image_size, image_size, 3), dtype=np.float64)
    for i in range(num_samples):
        images[i] = np.roll(prototypes[labels[i]], shift=tuple(shifts[i]), axis=(0, 1))
    images = images * gains + noise
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


@DATASETS.register_module()
class SyntheticImages(ArrayImageDataset):
    """mmengine dataset over :func:`make_synthetic_images`.

    Each item is ``dict(img=HxWx3 uint8 RGB array, gt_label=int, sample_idx=int)`` before the
    pipeline, the same layout the real image datasets produce.
    """

    def __init__(self, num_samples: int = 256, num_classes: int = 10, image_size: int = 32,
                 seed: int = 0, split: str = "train", **kwargs) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}; valid: train, test")
        self.num_samples = num_samples
        self.num_classes = num_classes
        self.image_size = image_size
        self.split = split
        self.seed = seed
        kwargs.setdefault("metainfo", dict(classes=tuple(f"class_{i}" for i in range(num_classes))))
        super().__init__(**kwargs)

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        images, labels = make_synthetic_images(self.num_samples * (2 if self.split == "test" else 1),
                                               self.num_classes, self.image_size, self.seed)
        if self.split == "test":  # same seed, so the same class patterns (drawn first); other images
            return images[self.num_samples:], labels[self.num_samples:]
        return images, labels
