"""Base for datasets held in memory as one uint8 array (CIFAR, Fashion-MNIST, generated)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.dataset import BaseDataset


class ArrayImageDataset(BaseDataset):
    """An mmengine dataset over ``images [N, H, W, 3]`` (uint8, RGB) and ``labels [N]``.

    Subclasses implement :meth:`load_arrays`. mmengine's default keeps one dict per sample and
    pickles the list; with tens of thousands of small images that costs seconds and doubles the
    memory, so items are made on access from the two arrays instead. ``indices`` keeps mmengine's
    meaning: an int takes the first N samples, a sequence takes those samples.
    """

    def __init__(self, indices: int | Sequence[int] | None = None, **kwargs) -> None:
        kwargs.setdefault("serialize_data", False)
        self.images: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        super().__init__(indices=indices, **kwargs)

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def load_data_list(self) -> list[dict]:  # required by BaseDataset; unused here
        raise NotImplementedError("ArrayImageDataset builds items from arrays")

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        images, labels = self.load_arrays()
        if self._indices is not None:
            keep = (np.arange(min(self._indices, len(labels))) if isinstance(self._indices, int)
                    else np.asarray(self._indices))
            images, labels = images[keep], labels[keep]
        self.images, self.labels = images, labels.astype(np.int64)
        self._fully_initialized = True

    def get_data_info(self, idx: int) -> dict:
        img = self.images[idx]
        return dict(img=img, gt_label=int(self.labels[idx]), sample_idx=idx,
                    img_shape=img.shape[:2], ori_shape=img.shape[:2])

    def __len__(self) -> int:
        self.full_init()
        return len(self.labels)


def dataset_labels(dataset: BaseDataset) -> np.ndarray:
    """The class label of every sample of ``dataset``, in index order (int64): the label array of
    an :class:`ArrayImageDataset`, the ``gt_label`` of every item of another mmengine dataset."""
    dataset.full_init()
    if isinstance(dataset, ArrayImageDataset):
        return dataset.labels
    return np.asarray([int(dataset.get_data_info(i)["gt_label"]) for i in range(len(dataset))],
                      dtype=np.int64)


def packs_only(dataset, keys: tuple[str, ...] = ()) -> bool:
    """True where ``dataset``'s pipeline is mmselfsup's PackSelfSupInputs alone, packing the image
    and at most the algorithm keys ``keys`` (no meta or pseudo-label keys): its items are then a
    fixed function of the arrays of an :class:`ArrayImageDataset`, with no transform or randomness."""
    transforms = getattr(dataset.pipeline, "transforms", None) or []
    return len(transforms) == 1 and type(transforms[0]).__name__ == "PackSelfSupInputs" and \
        set(transforms[0].algorithm_keys) <= set(keys) and not transforms[0].meta_keys and \
        not transforms[0].pseudo_label_keys


def channels_first(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` images as the ``[N, 3, H, W]`` tensor PackSelfSupInputs and
    default_collate make of them (a copy: the dataset's arrays may be read-only, shared in the
    process)."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
