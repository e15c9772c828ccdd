"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009), "python version", with the published splits.

``data_root`` may hold the extracted folder (``cifar-10-batches-py/`` or ``cifar-100-python/``),
be that folder itself, or hold the untouched archive (``cifar-10-python.tar.gz`` /
``cifar-100-python.tar.gz``), which is read in place: nothing is extracted, so nothing can be
left half-extracted. Every file read is first checked against the publisher's MD5 (the values
torchvision also uses); nothing is ever downloaded.
"""
from __future__ import annotations

import io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmselfsup.registry import DATASETS

from ..errors import DataError
from ..provenance import file_md5
from .base import ArrayImageDataset


@dataclass(frozen=True)
class CifarFormat:
    name: str
    folder: str
    archive: str
    archive_md5: str
    files: dict[str, str]           # file in the folder -> official MD5
    splits: dict[str, tuple[str, ...]]
    meta_file: str
    label_key: str
    names_key: str


CIFAR10_FORMAT = CifarFormat(
    name="CIFAR-10", folder="cifar-10-batches-py", archive="cifar-10-python.tar.gz",
    archive_md5="c58f30108f718f92721af3b95e74349a",
    files={"data_batch_1": "c99cafc152244af753f735de768cd75f",
           "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
           "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
           "data_batch_4": "634d18415352ddfa80567beed471001a",
           "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
           "test_batch": "40351d587109b95175f43aff81a1287e",
           "batches.meta": "5ff9c542aee3614f3951f8cda6e48888"},
    splits={"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    meta_file="batches.meta", label_key="labels", names_key="label_names")

CIFAR100_FORMAT = CifarFormat(
    name="CIFAR-100", folder="cifar-100-python", archive="cifar-100-python.tar.gz",
    archive_md5="eb9058c3a382ffc7106e4002c42a8d85",
    files={"train": "16019d7e3df5f24257cddd939b257f8d",
           "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
           "meta": "7973b15100ade9c7d40fb424638fde48"},
    splits={"train": ("train",), "test": ("test",)},
    meta_file="meta", label_key="fine_labels", names_key="fine_label_names")


def _how_to_get(fmt: CifarFormat, root: Path) -> str:
    return (f"put {fmt.archive} (or its extracted {fmt.folder}/) from the CIFAR website under "
            f"{root} or pass --data-root; nothing is downloaded")


def _check_md5(path: Path, expected: str) -> None:
    actual = file_md5(path)
    if actual != expected:
        raise DataError(f"{path}: MD5 {actual} does not match the official {expected}; the file is "
                        f"corrupt or truncated, replace it with a fresh copy")


def locate(fmt: CifarFormat, root: Path) -> tuple[str, Path]:
    """('folder', path) or ('archive', path) for the first form of the data found under root."""
    for folder in (root / fmt.folder, root):
        if all((folder / f).is_file() for f in fmt.files):
            return "folder", folder
    if (root / fmt.archive).is_file():
        return "archive", root / fmt.archive
    raise DataError(f"{fmt.name} not found: expected {root / fmt.folder}/ or "
                    f"{root / fmt.archive}; {_how_to_get(fmt, root)}")


def verify(fmt: CifarFormat, root: Path, checksums: dict[str, str] | None = None) -> tuple[str, Path]:
    """Locate the data and check the MD5 of the archive or of every file in the folder."""
    kind, path = locate(fmt, root)
    sums = {**fmt.files, fmt.archive: fmt.archive_md5, **(checksums or {})}
    if kind == "archive":
        _check_md5(path, sums[fmt.archive])
    else:
        for name in fmt.files:
            _check_md5(path / name, sums[name])
    return kind, path


def _unpickle(raw: bytes, where: str) -> dict:
    try:
        return pickle.load(io.BytesIO(raw), encoding="latin1")
    except Exception as err:  # a checksum-valid file never gets here; a custom checksum might
        raise DataError(f"{where} is not a CIFAR pickle ({type(err).__name__}); replace it") from None


def load_cifar(fmt: CifarFormat, root: Path | str, split: str,
               checksums: dict[str, str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images ``[N, 32, 32, 3]`` uint8 RGB, labels ``[N]`` and class names of ``split``."""
    kind, path = verify(fmt, Path(root), checksums)
    if kind == "archive":
        with tarfile.open(path, "r:gz") as tar:
            def read(name: str) -> bytes:
                member = tar.extractfile(f"{fmt.folder}/{name}")
                if member is None:
                    raise DataError(f"{path} has no member {fmt.folder}/{name}; replace the archive")
                return member.read()
            blobs = {name: read(name) for name in (*fmt.splits[split], fmt.meta_file)}
    else:
        blobs = {name: (path / name).read_bytes() for name in (*fmt.splits[split], fmt.meta_file)}
    batches = [_unpickle(blobs[name], f"{path}:{name}") for name in fmt.splits[split]]
    images = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = np.concatenate([np.asarray(b[fmt.label_key]) for b in batches]).astype(np.int64)
    names = list(_unpickle(blobs[fmt.meta_file], f"{path}:{fmt.meta_file}")[fmt.names_key])
    return np.ascontiguousarray(images), labels, names


class _Cifar(ArrayImageDataset):
    FORMAT: CifarFormat

    def __init__(self, data_root: str = "", split: str = "train",
                 checksums: dict[str, str] | None = None, **kwargs) -> None:
        if split not in self.FORMAT.splits:
            raise DataError(f"unknown {self.FORMAT.name} split {split!r}; valid: train, test")
        if not data_root:
            raise DataError(f"{self.FORMAT.name} needs --data-root: the folder holding "
                            f"{self.FORMAT.archive} or {self.FORMAT.folder}/")
        self.split, self.checksums = split, checksums
        verify(self.FORMAT, Path(data_root), checksums)  # fail before anything is built
        super().__init__(data_root=data_root, **kwargs)

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        images, labels, names = load_cifar(self.FORMAT, Path(self.data_root), self.split,
                                           self.checksums)
        self._metainfo["classes"] = tuple(names)
        return images, labels


@DATASETS.register_module()
class CIFAR10Python(_Cifar):
    """CIFAR-10: 50,000 train / 10,000 test images, 10 classes."""

    FORMAT = CIFAR10_FORMAT


@DATASETS.register_module()
class CIFAR100Python(_Cifar):
    """CIFAR-100: 50,000 train / 10,000 test images, 100 fine classes."""

    FORMAT = CIFAR100_FORMAT
