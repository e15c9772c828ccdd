"""Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) from its four IDX files, gzipped or not.

Looked for under ``data_root``, else under ``/usr/share/datasets/fashion-mnist`` where the Debian
package ``dataset-fashion-mnist`` installs it (``apt-get install dataset-fashion-mnist``).

Checks: the Debian package re-compresses the files, so the publisher's MD5 sums of the ``.gz``
files do not apply; instead every file is validated structurally (IDX magic number, item count
60,000 / 10,000, 28x28 images, labels 0-9). Images are fed like CIFAR's: RGB (the gray value in
all three channels) at 32x32, by zero-padding 2 pixels on each side (lossless; the classic
LeNet-5 treatment of 28x28 digits), so every backbone and augmentation runs unchanged.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from mmselfsup.registry import DATASETS

from ..errors import DataError
from .base import ArrayImageDataset

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000)}
HOW_TO_GET = ("install it with 'apt-get install dataset-fashion-mnist' or pass --data-root "
              "with the four IDX files")
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049


def _find(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise DataError(f"Fashion-MNIST file {root / (stem + '.gz')} not found; {HOW_TO_GET}")


def read_idx(path: Path, magic: int, count: int, item_shape: tuple[int, ...]) -> np.ndarray:
    """Read one IDX file (big-endian header: magic, dims) and check it is what is expected."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"{path} is not a readable IDX file ({err}); {HOW_TO_GET}") from None
    ndim = len(item_shape) + 1
    header_len = 4 + 4 * ndim
    header = np.frombuffer(raw[:header_len], dtype=">i4") if len(raw) >= header_len else None
    expected = (magic, count, *item_shape)
    if header is None or tuple(int(v) for v in header) != expected:
        found = None if header is None else tuple(int(v) for v in header)
        raise DataError(f"{path}: IDX header {found} differs from the expected {expected} "
                        f"(magic, count, dims); the file is corrupt or not Fashion-MNIST")
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_len)
    if data.size != count * int(np.prod(item_shape, dtype=np.int64)):
        raise DataError(f"{path} is truncated: {data.size} bytes of data after the header, "
                        f"expected {count * int(np.prod(item_shape))}; {HOW_TO_GET}")
    return data.reshape(count, *item_shape)


def load_fashion_mnist(root: Path | str | None, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 28, 28]`` uint8 and labels ``[N]`` int64 of ``split`` ('train' or 'test')."""
    root = Path(root) if root else DEFAULT_ROOT
    images_stem, labels_stem, count = SPLITS[split]
    images = read_idx(_find(root, images_stem), _IMAGES_MAGIC, count, (28, 28))
    labels = read_idx(_find(root, labels_stem), _LABELS_MAGIC, count, ())
    if labels.max() >= len(CLASSES):
        raise DataError(f"{root}: Fashion-MNIST labels must be 0-9, found {int(labels.max())}")
    return images, labels.astype(np.int64)


def to_rgb32(images: np.ndarray) -> np.ndarray:
    """[N, 28, 28] gray -> [N, 32, 32, 3] by 2-pixel zero padding and channel replication."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(padded[..., None], 3, axis=-1)


@DATASETS.register_module()
class FashionMNIST(ArrayImageDataset):
    """mmengine dataset over :func:`load_fashion_mnist`; items are 32x32x3 uint8 RGB images."""

    METAINFO = dict(classes=CLASSES)

    def __init__(self, data_root: str = "", split: str = "train", **kwargs) -> None:
        if split not in SPLITS:
            raise DataError(f"unknown Fashion-MNIST split {split!r}; valid: train, test")
        self.split = split
        root = Path(data_root) if data_root else DEFAULT_ROOT
        for stem in SPLITS[split][:2]:
            _find(root, stem)  # fail before anything is built or written
        super().__init__(data_root=str(root), **kwargs)

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        root = Path(self.data_root)
        files = tuple(_find(root, stem).resolve() for stem in SPLITS[self.split][:2])
        key = (self.split, tuple((f, f.stat().st_mtime_ns, f.stat().st_size) for f in files))
        if key not in _DECODED:
            images, labels = load_fashion_mnist(root, self.split)
            images = to_rgb32(images)
            for array in (images, labels):
                array.flags.writeable = False  # shared by every dataset of the process
            _DECODED[key] = images, labels
        return _DECODED[key]


# The decoded splits, once per process: a pretraining builds the split up to five times (checks,
# training, monitor, online probe), each decode and RGB conversion ~0.5 s for the training split.
_DECODED: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
