"""Tiny datasets in the exact on-disk formats of the real ones (CIFAR python pickles and
archives, gzipped IDX files, ImageNet class-folder trees)."""
from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from ortho_suite.datasets.cifar import CIFAR10_FORMAT, CIFAR100_FORMAT, CifarFormat


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def cifar_image_rows(n: int, seed: int) -> np.ndarray:
    """[n, 3072] rows in CIFAR's layout: the 1024 R values, then G, then B (row-major 32x32).
    Image i has R = i, G = 100 + i, B = 200 - i at every pixel but (0, 1), which is 255 in R."""
    rows = np.empty((n, 3, 32, 32), dtype=np.uint8)
    for i in range(n):
        rows[i, 0], rows[i, 1], rows[i, 2] = i, 100 + i, 200 - i
        rows[i, 0, 0, 1] = 255
    return rows.reshape(n, 3072)


def _batch(fmt: CifarFormat, n: int, seed: int, classes: int) -> bytes:
    labels = [int(v) for v in np.random.default_rng(seed).integers(0, classes, size=n)]
    batch = {"batch_label": "fixture", fmt.label_key: labels, "data": cifar_image_rows(n, seed),
             "filenames": [f"img_{i}.png" for i in range(n)]}
    if fmt is CIFAR100_FORMAT:
        batch["coarse_labels"] = [v // 5 for v in labels]
    return pickle.dumps(batch, protocol=2)


def make_cifar(root: Path, fmt: CifarFormat, per_file: int = 6, archive: bool = False) -> dict[str, str]:
    """Write the extracted folder (or only the .tar.gz) under root; return the fixture's MD5s."""
    classes = 10 if fmt is CIFAR10_FORMAT else 100
    blobs = {}
    for k, name in enumerate(fmt.files):
        if name == fmt.meta_file:
            names = [f"class_{i}" for i in range(classes)]
            blobs[name] = pickle.dumps({fmt.names_key: names}, protocol=2)
        else:
            blobs[name] = _batch(fmt, per_file, seed=k, classes=classes)
    root.mkdir(parents=True, exist_ok=True)
    if archive:
        path = root / fmt.archive
        with tarfile.open(path, "w:gz") as tar:
            for name, blob in blobs.items():
                info = tarfile.TarInfo(f"{fmt.folder}/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        return {fmt.archive: md5(path)}
    folder = root / fmt.folder
    folder.mkdir()
    for name, blob in blobs.items():
        (folder / name).write_bytes(blob)
    return {name: md5(folder / name) for name in blobs}


def write_idx(path: Path, array: np.ndarray, magic: int, compress: bool = True) -> None:
    header = struct.pack(">" + "i" * (1 + array.ndim), magic, *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


def make_fashion_mnist(root: Path, compress: bool = True) -> None:
    """Full-size IDX files (60,000 / 10,000 items, as the loader checks) with marked images:
    image i has the value (i mod 251) at pixel (0, 0) and 200 at (27, 27); label i mod 10."""
    root.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    for prefix, count in (("train", 60000), ("t10k", 10000)):
        images = np.zeros((count, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(count) % 251
        images[:, 27, 27] = 200
        write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images, 2051, compress)
        write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(count) % 10, 2049, compress)


def make_imagenet_tree(root: Path, classes: list[str], per_class: int = 1,
                       splits=("train", "val")) -> None:
    """JPEG class folders; image j of class k is a flat colour (k, j, 0) of size 12x10."""
    for split in splits:
        for k, wnid in enumerate(classes):
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for j in range(per_class):
                Image.new("RGB", (12, 10), (k, 10 * j, 0)).save(folder / f"{wnid}_{j}.JPEG", quality=100)
