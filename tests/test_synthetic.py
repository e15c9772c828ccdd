"""The generated test dataset: deterministic, well-formed, and carrying a class signal."""
from __future__ import annotations

import numpy as np

from ortho_suite.datasets import SyntheticImages, make_synthetic_images


def test_deterministic_per_seed():
    a, la = make_synthetic_images(32, seed=5)
    b, lb = make_synthetic_images(32, seed=5)
    c, _ = make_synthetic_images(32, seed=6)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)


def test_shapes_and_ranges():
    images, labels = make_synthetic_images(40, num_classes=7, image_size=16)
    assert images.shape == (40, 16, 16, 3) and images.dtype == np.uint8
    assert labels.min() >= 0 and labels.max() < 7


def test_class_signal_is_learnable_by_nearest_class_mean():
    """Nearest class mean on raw pixels must beat chance by far: otherwise a k-NN check of
    a trained encoder on this data would measure nothing."""
    images, labels = make_synthetic_images(600, num_classes=10, seed=0)
    x = images.reshape(len(images), -1).astype(np.float64)
    train, test = slice(0, 500), slice(500, 600)
    means = np.stack([x[train][labels[train] == k].mean(0) for k in range(10)])
    pred = ((x[test][:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == labels[test]).mean() > 0.5


def test_dataset_items_have_the_image_layout_of_real_datasets():
    ds = SyntheticImages(num_samples=8, num_classes=3, image_size=32)
    item = ds[0]
    assert item["img"].shape == (32, 32, 3) and item["img"].dtype == np.uint8
    assert 0 <= item["gt_label"] < 3 and len(ds) == 8
