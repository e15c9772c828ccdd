"""Dataset loaders on fixtures in the exact on-disk formats, their checksums and their errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ortho_suite import build, features
from ortho_suite.cli import main
from ortho_suite.datasets import (
    CIFAR10Python,
    CIFAR100Python,
    FashionMNIST,
    ImageNetFolder,
    LoadRGBImage,
    imagenet100_classes,
)
from ortho_suite.datasets.cifar import CIFAR10_FORMAT, CIFAR100_FORMAT, load_cifar
from ortho_suite.datasets.fmnist import DEFAULT_ROOT, load_fashion_mnist, to_rgb32
from ortho_suite.errors import DataError
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose

from .fixtures import make_cifar, make_fashion_mnist, make_imagenet_tree, md5

# ---------------------------------------------------------------- CIFAR

@pytest.mark.parametrize("fmt,per_split", [(CIFAR10_FORMAT, {"train": 30, "test": 6}),
                                           (CIFAR100_FORMAT, {"train": 6, "test": 6})])
@pytest.mark.parametrize("archive", [False, True])
def test_cifar_reads_folder_and_archive(tmp_path, fmt, per_split, archive):
    sums = make_cifar(tmp_path, fmt, archive=archive)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for split, n in per_split.items():
        images, labels, names = load_cifar(fmt, tmp_path, split, checksums=sums)
        assert images.shape == (n, 32, 32, 3) and images.dtype == np.uint8
        # channel planes become the last axis: image i is (i, 100 + i, 200 - i)
        assert tuple(images[2, 5, 5]) == (2, 102, 198)
        assert images[2, 0, 1, 0] == 255 and images[2, 1, 0, 0] == 2  # row-major, not transposed
        assert labels.shape == (n,) and labels.max() < len(names)
        assert len(names) == (10 if fmt is CIFAR10_FORMAT else 100)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "nothing may be extracted"


def test_cifar_accepts_the_extracted_folder_itself(tmp_path):
    sums = make_cifar(tmp_path, CIFAR10_FORMAT)
    images, _, _ = load_cifar(CIFAR10_FORMAT, tmp_path / CIFAR10_FORMAT.folder, "test", sums)
    assert len(images) == 6


@pytest.mark.parametrize("archive", [False, True])
def test_cifar_official_checksums_reject_a_non_official_copy(tmp_path, archive):
    make_cifar(tmp_path, CIFAR10_FORMAT, archive=archive)
    with pytest.raises(DataError) as err:
        load_cifar(CIFAR10_FORMAT, tmp_path, "train")
    message = str(err.value)
    official = CIFAR10_FORMAT.archive_md5 if archive else CIFAR10_FORMAT.files["data_batch_1"]
    assert official in message and "does not match the official" in message


@pytest.mark.parametrize("archive", [False, True])
def test_cifar_corrupted_copy_is_rejected_with_both_checksums(tmp_path, archive):
    sums = make_cifar(tmp_path, CIFAR100_FORMAT, archive=archive)
    target = (tmp_path / CIFAR100_FORMAT.archive if archive
              else tmp_path / CIFAR100_FORMAT.folder / "train")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data[:-10]))  # flipped byte and truncated
    with pytest.raises(DataError) as err:
        load_cifar(CIFAR100_FORMAT, tmp_path, "train", checksums=sums)
    message = str(err.value)
    assert str(target) in message and md5(target) in message and sums[target.name] in message


def test_cifar_missing_names_expected_paths_and_never_downloads(tmp_path):
    with pytest.raises(DataError) as err:
        CIFAR10Python(data_root=str(tmp_path), split="train")
    message = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert str(tmp_path / "cifar-10-python.tar.gz") in message and "nothing is downloaded" in message
    assert list(tmp_path.iterdir()) == []


def test_cifar_dataset_items(tmp_path):
    sums = make_cifar(tmp_path, CIFAR100_FORMAT)
    ds = CIFAR100Python(data_root=str(tmp_path), split="test", checksums=sums)
    assert len(ds) == 6
    item = ds[3]
    assert item["img"].shape == (32, 32, 3) and tuple(item["img"][5, 5]) == (3, 103, 197)
    assert ds.metainfo["classes"][0] == "class_0" and len(ds.metainfo["classes"]) == 100


# ---------------------------------------------------------------- Fashion-MNIST

@pytest.fixture(scope="module")
def fmnist_fixture(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmnist")
    make_fashion_mnist(root)
    return root


def test_fashion_mnist_reads_gzipped_idx(fmnist_fixture):
    images, labels = load_fashion_mnist(fmnist_fixture, "test")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert images[7, 0, 0] == 7 and images[300, 0, 0] == 300 % 251 and images[5, 27, 27] == 200
    assert list(labels[:12]) == [i % 10 for i in range(12)]


def test_fashion_mnist_reads_uncompressed_idx(tmp_path):
    make_fashion_mnist(tmp_path, compress=False)
    images, _ = load_fashion_mnist(tmp_path, "train")
    assert images.shape == (60000, 28, 28) and images[9, 0, 0] == 9


def test_fashion_mnist_as_rgb32():
    gray = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    rgb = to_rgb32(gray)
    assert rgb.shape == (2, 32, 32, 3)
    assert (rgb[:, :2] == 0).all() and (rgb[:, :, -2:] == 0).all()  # 2-pixel zero border
    assert (rgb[1, 2:30, 2:30, 1] == gray[1]).all() and (rgb[..., 0] == rgb[..., 2]).all()


@pytest.mark.parametrize("damage,fragment", [
    (lambda raw: raw[:4] + b"\x00\x00\x00\x05" + raw[8:], "IDX header"),
    (lambda raw: raw[:-100], "is truncated"),
])
def test_fashion_mnist_rejects_damaged_files(tmp_path, damage, fragment):
    make_fashion_mnist(tmp_path, compress=False)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=fragment) as err:
        load_fashion_mnist(tmp_path, "test")
    assert str(path) in str(err.value)


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(DataError) as err:
        FashionMNIST(data_root=str(tmp_path), split="train")
    message = str(err.value)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in message
    assert "apt-get install dataset-fashion-mnist" in message


@pytest.mark.skipif(not (DEFAULT_ROOT / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_from_debian_package():
    train = FashionMNIST(split="train")
    test = FashionMNIST(split="test")
    assert len(train) == 60000 and len(test) == 10000
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert int(train.labels[0]) == 9  # the first training image is an ankle boot
    item = train.get_data_info(0)
    assert item["img"].shape == (32, 32, 3) and item["img"][:2].max() == 0


# ---------------------------------------------------------------- ImageNet

def test_imagenet_tree_labels_follow_sorted_class_ids(tmp_path):
    classes = ["n0300", "n0100", "n0200"]
    make_imagenet_tree(tmp_path, classes, per_class=2)
    ds = ImageNetFolder(data_root=str(tmp_path), split="val")
    assert len(ds) == 6 and ds.metainfo["classes"] == ("n0100", "n0200", "n0300")
    info = ds.get_data_info(4)
    assert "n0300" in info["img_path"] and info["gt_label"] == 2
    loaded = LoadRGBImage()(dict(info))
    assert loaded["img"].shape == (10, 12, 3)
    assert tuple(loaded["img"][5, 5]) == pytest.approx((0, 0, 0), abs=3)  # class n0300 was made as k=0


def test_imagenet100_uses_exactly_the_cmc_classes(tmp_path):
    cmc = imagenet100_classes()
    assert len(cmc) == 100 == len(set(cmc)) and all(c.startswith("n") and len(c) == 9 for c in cmc)
    make_imagenet_tree(tmp_path, cmc + ["n99999999"], splits=("train",))
    ds = ImageNetFolder(data_root=str(tmp_path), split="train", subset="imagenet100")
    assert len(ds) == 100 and ds.metainfo["classes"] == tuple(sorted(cmc))
    assert all("n99999999" not in ds.get_data_info(i)["img_path"] for i in range(100))


def test_imagenet100_missing_classes_are_listed(tmp_path):
    cmc = imagenet100_classes()
    make_imagenet_tree(tmp_path, cmc[7:], splits=("train",))
    with pytest.raises(DataError) as err:
        ImageNetFolder(data_root=str(tmp_path), split="train", subset="imagenet100")
    message = str(err.value)
    assert "lacks 7 of the 100" in message and ", ".join(cmc[:5]) in message


def test_imagenet_missing_split_folder(tmp_path):
    with pytest.raises(DataError, match="split folder .* not found"):
        ImageNetFolder(data_root=str(tmp_path), split="train")


# ---------------------------------------------------------------- command line

def test_corrupt_cifar_exits_2_naming_both_checksums(tmp_path, capsys):
    make_cifar(tmp_path, CIFAR10_FORMAT, archive=True)
    code = main(["pretrain", "--method", "simclr", "--backbone", "resnet18_cifar",
                 "--dataset", "cifar10", "--data-root", str(tmp_path), "--work-dir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2 and CIFAR10_FORMAT.archive_md5 in err and md5(tmp_path / CIFAR10_FORMAT.archive) in err
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("aug,sizes", [("byol_imagenet", [224, 224]),
                                       ("intl_imagenet_multicrop", [224, 224, 192, 160, 128, 96])])
def test_imagenet_pipeline_crops_on_cpu_and_colours_on_device(tmp_path, aug, sizes):
    """The composed ImageNet-100 config end to end on a fixture tree: per-image crops of the
    recipe's sizes from the loader, then the preprocessor's batched colour operations."""
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import DATASETS, MODELS

    make_imagenet_tree(tmp_path, imagenet100_classes(), splits=("train",))
    cfg = compose.compose_config(RunSpec("byol", "resnet18_cifar", "imagenet100", aug=aug), tmp_path / "w", data_root=str(tmp_path))
    build.check_data(cfg)
    with DefaultScope.overwrite_default_scope("mmselfsup"):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        preprocessor = MODELS.build(cfg.model.data_preprocessor)
    item = dataset[0]
    assert [tuple(x.shape) for x in item["inputs"]] == [(3, s, s) for s in sizes]
    assert "gt_label" not in item["data_samples"]  # see test_training_batches_carry_no_label_tensors
    assert all(x.dtype == torch.uint8 for x in item["inputs"])
    batch = {"inputs": [x.unsqueeze(0) for x in item["inputs"]], "data_samples": [item["data_samples"]]}
    views, _ = preprocessor(batch, training=True)
    assert [tuple(v.shape) for v in views] == [(1, 3, s, s) for s in sizes]


def test_cifar_recipe_is_rejected_for_imagenet(capsys, tmp_path):
    code = main(["pretrain", "--method", "simclr", "--backbone", "resnet18_cifar", "--dataset",
                 "imagenet100", "--aug", "solo_cifar_symmetric", "--work-dir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2 and "makes 32px views" in err and "byol_imagenet" in err


def _count_tensors(x) -> int:
    from mmengine.structures import BaseDataElement

    if isinstance(x, torch.Tensor):
        return 1
    if isinstance(x, BaseDataElement):
        return sum(_count_tensors(v) for v in x.all_values())
    if isinstance(x, dict):
        return sum(_count_tensors(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return sum(_count_tensors(v) for v in x)
    return 0


def test_training_batches_carry_no_label_tensors(tmp_path):
    """A loader worker hands each tensor of a batch over through a shared-memory segment of its
    own. Per-image label tensors made that 512 segments a batch and capped the loader near 3k
    images/s (benchmarks/perf/loader_throughput.py), so training samples are packed without the
    label no SSL loss reads: a collated batch holds one tensor per view, whatever its size.
    Evaluation still gets each image's label."""
    from mmengine.dataset import default_collate
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import DATASETS

    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic"), tmp_path / "w")
    with DefaultScope.overwrite_default_scope("mmselfsup"):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    counts = [_count_tensors(default_collate([dataset[i] for i in range(n)])) for n in (2, 16)]
    assert counts == [1, 1]  # the images, stacked; views are made on the device
    evaluation_set = build.feature_dataset(cfg, "test", limit=4)
    labels = features.sample_labels([evaluation_set[i]["data_samples"] for i in range(4)])
    assert labels.tolist() == [int(evaluation_set.labels[i]) for i in range(4)]
