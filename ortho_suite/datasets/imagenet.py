"""ImageNet-1k and ImageNet-100 from the standard class-folder tree.

Layout under ``data_root``: ``train/<wnid>/*.JPEG`` and ``val/<wnid>/*.JPEG`` (the validation
images sorted into class folders, as torchvision's ImageFolder and solo-learn expect). Labels are
the positions of the class ids in sorted order, as ImageFolder assigns them.

ImageNet-100 is the 100-class subset of CMC (Tian, Krishnan, Isola 2020), the one solo-learn and
the OR and INTL papers use; its class list ships in ``data/imagenet100_cmc.txt`` (copied from
CMC's ``imagenet100.txt``). It is read from a full ImageNet tree (or a tree holding just those
classes); a tree missing any of the 100 classes is an error naming the first missing ids.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from PIL import Image

from mmselfsup.registry import DATASETS, TRANSFORMS

from ..errors import DataError

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")
SPLITS = ("train", "val")


def imagenet100_classes() -> list[str]:
    """The 100 WordNet ids of CMC's ImageNet-100, in the list's order."""
    text = (resources.files("ortho_suite.datasets") / "data" / "imagenet100_cmc.txt").read_text()
    return text.split()


def class_folders(split_dir: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(split_dir) if e.is_dir())


def scan_image_folder(split_dir: Path, classes: list[str]) -> list[tuple[str, int]]:
    """(path, label) of every image of ``classes`` (label = index in sorted ``classes``)."""
    samples = []
    for label, wnid in enumerate(sorted(classes)):
        folder = split_dir / wnid
        files = sorted(e.path for e in os.scandir(folder)
                       if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise DataError(f"{folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                            "restore the class folder")
        samples.extend((path, label) for path in files)
    return samples


def check_tree(data_root: Path, split: str, required: list[str] | None) -> list[str]:
    """The class ids to use; raises DataError if the split folder or required classes are missing."""
    split_dir = data_root / split
    if not split_dir.is_dir():
        raise DataError(f"ImageNet split folder {split_dir} not found; pass --data-root with "
                        f"{'/'.join(SPLITS)} folders of class sub-folders (val sorted into classes)")
    present = set(class_folders(split_dir))
    if required is None:
        if not present:
            raise DataError(f"{split_dir} has no class folders")
        return sorted(present)
    missing = [wnid for wnid in required if wnid not in present]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise DataError(f"{split_dir} lacks {len(missing)} of the {len(required)} ImageNet-100 "
                        f"classes (first missing: {shown}); use a full ImageNet tree")
    return sorted(required)


@DATASETS.register_module()
class ImageNetFolder(BaseDataset):
    """ImageNet-1k (``subset=None``) or ImageNet-100 (``subset='imagenet100'``) from class folders.

    Items are ``dict(img_path, gt_label)``; the pipeline decodes them (:class:`LoadRGBImage`).
    """

    def __init__(self, data_root: str = "", split: str = "train", subset: str | None = None,
                 **kwargs) -> None:
        if split not in SPLITS:
            raise DataError(f"unknown ImageNet split {split!r}; valid: {', '.join(SPLITS)}")
        if subset not in (None, "imagenet100"):
            raise DataError(f"unknown ImageNet subset {subset!r}; valid: imagenet100")
        if not data_root:
            raise DataError("ImageNet needs --data-root: the folder holding train/ and val/")
        self.split = split
        required = imagenet100_classes() if subset == "imagenet100" else None
        self.classes = check_tree(Path(data_root), split, required)  # fail before building
        kwargs.setdefault("metainfo", dict(classes=tuple(self.classes)))
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        samples = scan_image_folder(Path(self.data_root) / self.split, self.classes)
        return [dict(img_path=path, gt_label=label) for path, label in samples]


@TRANSFORMS.register_module()
class LoadRGBImage(BaseTransform):
    """Decode ``results['img_path']`` with Pillow into an RGB uint8 array ``results['img']``
    (mmcv's loader returns BGR; every dataset of the suite hands RGB to the augmentations)."""

    def transform(self, results: dict) -> dict:
        with Image.open(results["img_path"]) as image:
            img = np.asarray(image.convert("RGB"))
        results["img"] = img
        results["img_shape"] = results["ori_shape"] = img.shape[:2]
        return results
