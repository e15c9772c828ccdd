"""The transfer classification datasets of OR Table 6 (Food-101, Flowers-102, DTD, GTSRB), each
read from the files its authors distribute, unchanged.

``data_root`` is the folder the official archive extracts to, or the folder holding it
(``food-101/``, ``flowers-102/``, ``dtd/``, ``GTSRB/``). The layouts are the ones torchvision's
loaders read (checked against torchvision/datasets/{food101,flowers102,dtd,gtsrb}.py); where
torchvision reads a re-packaged copy instead (its GTSRB training set is the re-zipped
``GTSRB/Training``), the authors' original is read here:

- Food-101 (Bossard, Guillaumin, Van Gool, ECCV 2014): ``images/<class>/<id>.jpg``,
  ``meta/classes.txt`` (label = line number), ``meta/train.txt`` / ``meta/test.txt`` (lines
  ``<class>/<id>``); 75,750 / 25,250 images, 101 classes. Splits: train, test.
- Flowers-102 (Nilsback, Zisserman, ICVGIP 2008): ``jpg/image_XXXXX.jpg``, ``imagelabels.mat``
  (``labels``: 1-based class of every image) and ``setid.mat`` (``trnid`` / ``valid`` /
  ``tstid``: 1-based image ids); 1,020 / 1,020 / 6,149 images. Splits: train, val, test.
- DTD (Cimpoi et al., CVPR 2014): ``images/<class>/*.jpg`` and ``labels/{train,val,test}<fold>.txt``
  (lines ``<class>/<file>``), 10 folds; fold 1 by default, the fold Kornblith et al. 2019 and the
  SimCLR/BYOL transfer tables report. Labels: positions of the class folders in sorted order (47).
- GTSRB (Stallkamp et al., IJCNN 2011), the "Final" release: training
  ``GTSRB/Final_Training/Images/<5-digit class>/*.ppm`` with ``GT-<class>.csv`` in each class
  folder; test ``GTSRB/Final_Test/Images/*.ppm`` with ``GT-final_test.csv`` (from
  GTSRB_Final_Test_GT.zip: beside ``GTSRB/``, in it, or in ``Final_Test/Images/``). The CSVs are
  semicolon separated: ``Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId``. The whole
  image is used, as torchvision and the transfer-probe literature do; the ROI is validated, not
  cropped. 39,209 / 12,630 images, 43 classes. Splits: train, test.

Every listed image is checked to exist when the dataset is built, so a damaged copy stops with one
line (:class:`~ortho_suite.errors.DataError`, exit 2) before anything is trained or written.
Items are ``dict(img_path, gt_label)``, decoded by the pipeline (``LoadRGBImage``).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from mmengine.dataset import BaseDataset

from mmselfsup.registry import DATASETS

from ..errors import DataError

Samples = list[tuple[str, int]]


def _find_root(data_root: str, name: str, folder: str, marker: str) -> Path:
    """The dataset folder: ``data_root`` itself when it holds ``marker``, else
    ``data_root/folder`` when that does; DataError naming both otherwise."""
    if not data_root:
        raise DataError(f"{name} needs --data-root: the folder holding {folder}/ (the extracted "
                        "official archive); nothing is downloaded")
    root = Path(data_root)
    for candidate in (root, root / folder):
        if (candidate / marker).exists():
            return candidate
    raise DataError(f"{name} not found: neither {root / marker} nor {root / folder / marker} "
                    f"exists; extract the official {name} archive under {root}")


def _read_lines(path: Path, name: str) -> list[str]:
    if not path.is_file():
        raise DataError(f"{name} metadata file {path} is missing; restore it from the official "
                        "archive")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text file; restore it from the official archive") from None
    return [line.strip() for line in lines if line.strip()]


def _check_images(samples: Samples, name: str, where: Path) -> None:
    """Every listed image exists (one stat per file; Food-101's 101k take about a second)."""
    missing = [path for path, _ in samples if not os.path.isfile(path)]
    if missing:
        raise DataError(f"{name}: {len(missing)} image(s) listed in {where} are missing (first: "
                        f"{missing[0]}); restore them from the official archive")


class _TransferDataset(BaseDataset):
    """An image-path dataset whose (path, label) list is read and checked at construction."""

    NAME: str
    SPLITS: tuple[str, ...]

    def __init__(self, data_root: str = "", split: str = "train", **kwargs) -> None:
        if split not in self.SPLITS:
            raise DataError(f"unknown {self.NAME} split {split!r}; valid: {', '.join(self.SPLITS)}")
        self.split = split
        self.samples, self.classes = self.scan(data_root, split)  # fail before building
        kwargs.setdefault("metainfo", dict(classes=tuple(self.classes)))
        super().__init__(data_root=data_root, **kwargs)

    def scan(self, data_root: str, split: str) -> tuple[Samples, list[str]]:
        raise NotImplementedError

    def load_data_list(self) -> list[dict]:
        return [dict(img_path=path, gt_label=label) for path, label in self.samples]


@DATASETS.register_module()
class Food101(_TransferDataset):
    """Food-101: 101 classes, the official train/test lists."""

    NAME, SPLITS = "Food-101", ("train", "test")

    def scan(self, data_root, split):
        root = _find_root(data_root, self.NAME, "food-101", "meta")
        classes = _read_lines(root / "meta" / "classes.txt", self.NAME)
        index = {c: i for i, c in enumerate(classes)}
        if len(index) != len(classes):
            raise DataError(f"{root / 'meta' / 'classes.txt'} lists a class twice; restore it")
        listing = root / "meta" / f"{split}.txt"
        samples = []
        for number, line in enumerate(_read_lines(listing, self.NAME), 1):
            cls, _, image_id = line.partition("/")
            if not image_id or "/" in image_id:
                raise DataError(f"{listing}:{number}: {line!r} is not <class>/<id>; restore the file")
            if cls not in index:
                raise DataError(f"{listing}:{number}: class {cls!r} is not in meta/classes.txt; "
                                "restore both files from the official archive")
            samples.append((str(root / "images" / cls / f"{image_id}.jpg"), index[cls]))
        _check_images(samples, self.NAME, listing)
        return samples, classes


def _loadmat(path: Path, key: str, name: str):
    """The 1-d integer array ``key`` of the MATLAB file ``path``."""
    import numpy as np
    from scipy.io import loadmat  # a dependency of mmselfsup, locked in uv.lock

    if not path.is_file():
        raise DataError(f"{name} file {path} is missing; download it from the dataset's page")
    try:
        data = loadmat(str(path), squeeze_me=True)
    except Exception as err:  # scipy raises ValueError, TypeError, MatReadError... on bad files
        raise DataError(f"{path} is not a readable MATLAB file ({type(err).__name__}); replace "
                        "it with the official one") from None
    value = np.atleast_1d(np.asarray(data.get(key, [])))
    if key not in data or value.ndim != 1 or value.dtype.kind not in "iuf" or not len(value):
        raise DataError(f"{path} has no 1-d numeric array {key!r}; replace it with the official one")
    if value.dtype.kind == "f" and not np.all(value == np.round(value)):
        raise DataError(f"{path}: {key!r} holds non-integer values; replace it with the official one")
    return value.astype(np.int64)


@DATASETS.register_module()
class Flowers102(_TransferDataset):
    """Flowers-102: 102 classes, the official train/val/test ids of setid.mat."""

    NAME, SPLITS = "Flowers-102", ("train", "val", "test")
    SET_KEYS = {"train": "trnid", "val": "valid", "test": "tstid"}

    def scan(self, data_root, split):
        root = _find_root(data_root, self.NAME, "flowers-102", "jpg")
        labels = _loadmat(root / "imagelabels.mat", "labels", self.NAME)
        ids = _loadmat(root / "setid.mat", self.SET_KEYS[split], self.NAME)
        if labels.min() < 1:
            raise DataError(f"{root / 'imagelabels.mat'}: labels must be 1-based class numbers; "
                            "replace it with the official one")
        bad = ids[(ids < 1) | (ids > len(labels))]
        if len(bad):
            raise DataError(f"{root / 'setid.mat'}: image id {int(bad[0])} of {self.SET_KEYS[split]} "
                            f"has no label in imagelabels.mat ({len(labels)} images); replace "
                            "both with the official files")
        num_classes = int(labels.max())
        samples = [(str(root / "jpg" / f"image_{i:05d}.jpg"), int(labels[i - 1]) - 1) for i in ids]
        _check_images(samples, self.NAME, root / "setid.mat")
        return samples, [str(c) for c in range(1, num_classes + 1)]


@DATASETS.register_module()
class DTD(_TransferDataset):
    """DTD: 47 texture classes, the official split files of one fold (1-10)."""

    NAME, SPLITS = "DTD", ("train", "val", "test")

    def __init__(self, data_root: str = "", split: str = "train", fold: int = 1, **kwargs) -> None:
        if not isinstance(fold, int) or isinstance(fold, bool) or not 1 <= fold <= 10:
            raise DataError(f"DTD fold must be an integer 1-10, got {fold!r}")
        self.fold = fold
        super().__init__(data_root=data_root, split=split, **kwargs)

    def scan(self, data_root, split):
        root = _find_root(data_root, self.NAME, "dtd", "images")
        classes = sorted(e.name for e in os.scandir(root / "images") if e.is_dir())
        if not classes:
            raise DataError(f"{root / 'images'} has no class folders; extract the official archive")
        index = {c: i for i, c in enumerate(classes)}
        listing = root / "labels" / f"{split}{self.fold}.txt"
        samples = []
        for number, line in enumerate(_read_lines(listing, self.NAME), 1):
            cls, _, file = line.partition("/")
            if not file or "/" in file:
                raise DataError(f"{listing}:{number}: {line!r} is not <class>/<file>; restore the file")
            if cls not in index:
                raise DataError(f"{listing}:{number}: class {cls!r} has no folder in "
                                f"{root / 'images'}; restore the class folder")
            samples.append((str(root / "images" / cls / file), index[cls]))
        _check_images(samples, self.NAME, listing)
        return samples, classes


GTSRB_COLUMNS = ("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId")


def read_gtsrb_csv(path: Path) -> list[dict]:
    """The rows of one GTSRB annotation file, every field checked (ints, ROI inside the image)."""
    if not path.is_file():
        raise DataError(f"GTSRB annotation file {path} is missing; restore it from the official "
                        "archive")
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f, delimiter=";", skipinitialspace=True)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != GTSRB_COLUMNS:
            raise DataError(f"{path}: header {';'.join(header or [])!r} is not the official "
                            f"{';'.join(GTSRB_COLUMNS)!r}; restore the file")
        rows = []
        for number, fields in enumerate(reader, 2):
            if not fields:
                continue
            if len(fields) != len(GTSRB_COLUMNS):
                raise DataError(f"{path}:{number}: {len(fields)} fields, expected "
                                f"{len(GTSRB_COLUMNS)} (semicolon separated); restore the file")
            try:
                values = [int(v) for v in fields[1:]]
            except ValueError:
                raise DataError(f"{path}:{number}: non-integer size, ROI or ClassId; restore the "
                                "file") from None
            width, height, x1, y1, x2, y2, class_id = values
            if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height) or class_id < 0:
                raise DataError(f"{path}:{number}: ROI ({x1},{y1})-({x2},{y2}) outside the "
                                f"{width}x{height} image or negative ClassId; restore the file")
            rows.append(dict(file=fields[0].strip(), class_id=class_id))
    if not rows:
        raise DataError(f"{path} lists no images; restore it from the official archive")
    return rows


@DATASETS.register_module()
class GTSRB(_TransferDataset):
    """GTSRB (Final release): 43 traffic-sign classes, whole images, label = ClassId."""

    NAME, SPLITS = "GTSRB", ("train", "test")

    def scan(self, data_root, split):
        marker = "Final_Training" if split == "train" else "Final_Test"
        root = _find_root(data_root, self.NAME, "GTSRB", marker)
        samples = []
        if split == "train":
            images = root / "Final_Training" / "Images"
            folders = sorted(e.name for e in os.scandir(images) if e.is_dir()) \
                if images.is_dir() else []
            if not folders:
                raise DataError(f"{images} has no class folders; extract "
                                "GTSRB_Final_Training_Images.zip there")
            for folder in folders:
                if len(folder) != 5 or not folder.isdigit():
                    raise DataError(f"{images / folder} is not a 5-digit class folder (00000-00042); "
                                    "remove it or restore the official tree")
                gt = images / folder / f"GT-{folder}.csv"
                for row in read_gtsrb_csv(gt):
                    if row["class_id"] != int(folder):
                        raise DataError(f"{gt}: {row['file']} has ClassId {row['class_id']} in "
                                        f"class folder {folder}; restore the official tree")
                    samples.append((str(images / folder / row["file"]), row["class_id"]))
            where = images
        else:
            images = root / "Final_Test" / "Images"
            candidates = [root.parent / "GT-final_test.csv", root / "GT-final_test.csv",
                          images / "GT-final_test.csv"]
            gt = next((p for p in candidates if p.is_file()), None)
            if gt is None:
                raise DataError(f"GTSRB test labels GT-final_test.csv not found (looked in "
                                f"{', '.join(str(p.parent) for p in candidates)}); extract "
                                "GTSRB_Final_Test_GT.zip beside GTSRB/")
            samples = [(str(images / row["file"]), row["class_id"]) for row in read_gtsrb_csv(gt)]
            where = gt
        _check_images(samples, self.NAME, where)
        num_classes = max(label for _, label in samples) + 1
        return samples, [f"{c:05d}" for c in range(num_classes)]
