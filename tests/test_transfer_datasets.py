"""The transfer datasets of OR Table 6 (ortho_suite/datasets/transfer.py) on tiny fixtures written
in each dataset's official on-disk format, and their damaged copies through the command line."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from ortho_suite import build
from ortho_suite.cli import main
from ortho_suite.datasets import DTD, GTSRB, Flowers102, Food101, LoadRGBImage
from ortho_suite.errors import DataError
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose


def _image(path: Path, colour: tuple[int, int, int], size=(12, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, **({"quality": 100} if path.suffix == ".jpg" else {}))


def make_food101(root: Path, classes=("apple_pie", "baby_back_ribs", "beignets"), per_split=2) -> Path:
    """food-101/ as the official tarball extracts: images/<class>/<id>.jpg, meta/*.txt."""
    base = root / "food-101"
    (base / "meta").mkdir(parents=True)
    (base / "meta" / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    for s, split in enumerate(("train", "test")):
        lines = []
        for k, cls in enumerate(classes):
            for j in range(per_split):
                image_id = f"{100 * k + 10 * s + j}"
                _image(base / "images" / cls / f"{image_id}.jpg", (40 * k, 10 * j, 100 * s))
                lines.append(f"{cls}/{image_id}\n")
        (base / "meta" / f"{split}.txt").write_text("".join(lines))
    return base


# Flowers-102 fixture: image i (1-based) has class FLOWER_LABELS[i - 1]; the splits take ids
FLOWER_LABELS = [3, 1, 2, 1, 3, 2, 2, 1, 3]
FLOWER_SPLITS = {"trnid": [1, 2, 3], "valid": [4, 5, 6], "tstid": [7, 8, 9]}


def make_flowers102(root: Path) -> Path:
    """jpg/image_XXXXX.jpg, imagelabels.mat and setid.mat (MATLAB 5 files, 1 x N rows, as the
    official ones; labels and ids 1-based)."""
    base = root / "flowers-102"
    for i, label in enumerate(FLOWER_LABELS, 1):
        _image(base / "jpg" / f"image_{i:05d}.jpg", (20 * i, 50 * label, 0))
    savemat(base / "imagelabels.mat", {"labels": np.asarray([FLOWER_LABELS], dtype=np.uint8)})
    savemat(base / "setid.mat", {k: np.asarray([v], dtype=np.uint16) for k, v in FLOWER_SPLITS.items()})
    return base


def make_dtd(root: Path, classes=("banded", "blotchy", "zigzagged"), folds=2) -> Path:
    """dtd/ as dtd-r1.0.1.tar.gz extracts: images/<class>/<class>_NNNN.jpg, labels/<split><fold>.txt.
    Each class has 3 images; fold f puts image (j + f) % 3 in train, the next in val, the last in test."""
    base = root / "dtd"
    for k, cls in enumerate(classes):
        for j in range(3):
            _image(base / "images" / cls / f"{cls}_{j:04d}.jpg", (60 * k, 60 * j, 7))
    (base / "labels").mkdir(parents=True)
    for fold in range(1, folds + 1):
        for s, split in enumerate(("train", "val", "test")):
            lines = [f"{cls}/{cls}_{(s + fold) % 3:04d}.jpg\n" for cls in classes]
            (base / "labels" / f"{split}{fold}.txt").write_text("".join(lines))
    return base


GT_HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"


def make_gtsrb(root: Path, classes=(0, 1, 2), per_class=2) -> Path:
    """GTSRB/Final_Training/Images/<5-digit class>/<track>_<frame>.ppm with GT-<class>.csv,
    GTSRB/Final_Test/Images/<n>.ppm, and GT-final_test.csv beside GTSRB/ (where the official
    GTSRB_Final_Test_GT.zip extracts), semicolon separated with the ROI columns."""
    base = root / "GTSRB"
    for c in classes:
        folder = base / "Final_Training" / "Images" / f"{c:05d}"
        rows = []
        for j in range(per_class):
            name = f"00000_{j:05d}.ppm"
            _image(folder / name, (80 * c, 30 * j, 5), size=(14, 12))
            rows.append(f"{name};14;12;1;1;13;11;{c}\n")
        (folder / f"GT-{c:05d}.csv").write_text(GT_HEADER + "".join(rows))
    rows = []
    for n, c in enumerate(reversed(classes)):
        name = f"{n:05d}.ppm"
        _image(base / "Final_Test" / "Images" / name, (80 * c, 200, 9), size=(14, 12))
        rows.append(f"{name};14;12;2;2;12;10;{c}\n")
    (root / "GT-final_test.csv").write_text(GT_HEADER + "".join(rows))
    return base


def _labels(ds) -> list[int]:
    return [ds.get_data_info(i)["gt_label"] for i in range(len(ds))]


def _shows(ds, i, colour) -> bool:
    """Item i decodes (RGB) to the fixture's flat colour, within JPEG's 2 levels."""
    rgb = LoadRGBImage()(dict(ds.get_data_info(i)))["img"].astype(int)
    return bool(np.abs(rgb - np.asarray(colour)).max() <= 2)


# ---------------------------------------------------------------- reading the official formats

def test_food101_labels_follow_classes_txt_and_lists(tmp_path):
    base = make_food101(tmp_path)
    for root in (tmp_path, base):  # the folder holding food-101/, or food-101/ itself
        ds = Food101(data_root=str(root), split="test")
        assert ds.metainfo["classes"] == ("apple_pie", "baby_back_ribs", "beignets")
        assert _labels(ds) == [0, 0, 1, 1, 2, 2]
        assert ds.get_data_info(2)["img_path"] == str(base / "images" / "baby_back_ribs" / "110.jpg")
        assert _shows(ds, 3, (40, 10, 100))  # class 1, image 1 of the test split


def test_flowers102_uses_setid_ids_and_zero_based_imagelabels(tmp_path):
    make_flowers102(tmp_path)
    for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid")):
        ds = Flowers102(data_root=str(tmp_path), split=split)
        assert _labels(ds) == [FLOWER_LABELS[i - 1] - 1 for i in FLOWER_SPLITS[key]]
        assert [Path(ds.get_data_info(i)["img_path"]).name for i in range(len(ds))] == \
            [f"image_{i:05d}.jpg" for i in FLOWER_SPLITS[key]]
    assert len(ds.metainfo["classes"]) == 3
    assert _shows(ds, 0, (140, 100, 0))  # image 7, class 2


def test_dtd_reads_the_requested_fold(tmp_path):
    make_dtd(tmp_path)
    for fold in (1, 2):
        ds = DTD(data_root=str(tmp_path), split="val", fold=fold)
        assert _labels(ds) == [0, 1, 2]
        assert Path(ds.get_data_info(1)["img_path"]).name == f"blotchy_{(1 + fold) % 3:04d}.jpg"
    with pytest.raises(DataError, match="fold must be an integer 1-10"):
        DTD(data_root=str(tmp_path), split="train", fold=11)


def test_gtsrb_train_from_class_csvs_and_test_from_gt_final_test(tmp_path):
    base = make_gtsrb(tmp_path)
    train = GTSRB(data_root=str(tmp_path), split="train")
    assert _labels(train) == [0, 0, 1, 1, 2, 2]
    assert _shows(train, 3, (80, 30, 5))  # .ppm decoded to RGB
    test = GTSRB(data_root=str(base), split="test")  # GTSRB/ itself; the CSV beside it
    assert _labels(test) == [2, 1, 0]
    assert test.metainfo["classes"] == ("00000", "00001", "00002")


def test_transfer_config_builds_views_and_evaluation_crops(tmp_path):
    """The composed food101 config: two 224 px training views per image, and the frozen-feature
    view (shorter side to 224, central crop) with the label, on the test split."""
    make_food101(tmp_path)
    cfg = compose.compose_config(RunSpec("byol", "resnet18_cifar", "food101"), tmp_path / "w",
                                 data_root=str(tmp_path))
    build.check_data(cfg)
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import DATASETS
    with DefaultScope.overwrite_default_scope("mmselfsup"):
        item = DATASETS.build(cfg.train_dataloader.dataset)[0]
        test = build.feature_dataset(cfg, cfg.feature_data.test_split)
        sample = test[5]
    assert [tuple(x.shape) for x in item["inputs"]] == [(3, 224, 224)] * 2
    assert [tuple(x.shape) for x in sample["inputs"]] == [(3, 224, 224)]
    assert int(sample["data_samples"].gt_label.value) == 2
    assert cfg.feature_data.val_split is None


# ---------------------------------------------------------------- damaged copies: exit 2, one line

def _missing_classes_txt(root):
    (make_food101(root) / "meta" / "classes.txt").unlink()
    return "food101", "meta/classes.txt is missing"


def _food_image_missing(root):
    (make_food101(root) / "images" / "beignets" / "201.jpg").unlink()
    return "food101", "image(s) listed in"


def _food_unknown_class(root):
    base = make_food101(root)
    (base / "meta" / "train.txt").write_text("apple_pie/0\nhot_dog/7\n")
    return "food101", "class 'hot_dog' is not in meta/classes.txt"


def _flowers_malformed_mat(root):
    (make_flowers102(root) / "setid.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    return "flowers102", "is not a readable MATLAB file"


def _flowers_missing_key(root):
    savemat(make_flowers102(root) / "setid.mat", {"trnid_x": np.asarray([[1, 2]])})
    return "flowers102", "has no 1-d numeric array 'trnid'"


def _flowers_image_missing(root):
    (make_flowers102(root) / "jpg" / "image_00002.jpg").unlink()
    return "flowers102", "image_00002.jpg"


def _dtd_missing_split_file(root):
    (make_dtd(root) / "labels" / "train1.txt").unlink()
    return "dtd", "train1.txt is missing"


def _dtd_class_folder_missing(root):
    shutil.rmtree(make_dtd(root) / "images" / "zigzagged")
    return "dtd", "class 'zigzagged' has no folder"


def _gtsrb_comma_csv(root):
    gt = make_gtsrb(root) / "Final_Training" / "Images" / "00001" / "GT-00001.csv"
    gt.write_text(gt.read_text().replace(";", ","))
    return "gtsrb", "is not the official"


def _gtsrb_roi_outside(root):
    gt = make_gtsrb(root) / "Final_Training" / "Images" / "00002" / "GT-00002.csv"
    gt.write_text(GT_HEADER + "00000_00000.ppm;14;12;1;1;15;11;2\n")
    return "gtsrb", "outside the 14x12 image"


def _gtsrb_wrong_class_folder(root):
    images = make_gtsrb(root) / "Final_Training" / "Images"
    (images / "00001").rename(images / "00007")  # its CSV still says class 1
    (images / "00007" / "GT-00001.csv").rename(images / "00007" / "GT-00007.csv")
    return "gtsrb", "has ClassId 1 in class folder 00007"


def _gtsrb_not_a_class_folder(root):
    (make_gtsrb(root) / "Final_Training" / "Images" / "signs").mkdir()
    return "gtsrb", "is not a 5-digit class folder"


DAMAGES = [_missing_classes_txt, _food_image_missing, _food_unknown_class, _flowers_malformed_mat,
           _flowers_missing_key, _flowers_image_missing, _dtd_missing_split_file,
           _dtd_class_folder_missing, _gtsrb_comma_csv, _gtsrb_roi_outside,
           _gtsrb_wrong_class_folder, _gtsrb_not_a_class_folder]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__.strip("_"))
def test_damaged_copy_exits_2_with_one_line_and_writes_nothing(damage, tmp_path, capsys):
    dataset, fragment = damage(tmp_path / "data")
    code = main(["pretrain", "--method", "simclr", "--backbone", "resnet18_cifar", "--dataset",
                 dataset, "--data-root", str(tmp_path / "data"), "--work-dir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert fragment in err and ("restore" in err or "replace" in err), err
    assert not (tmp_path / "w").exists()


def test_gtsrb_test_labels_missing_names_where_it_looked(tmp_path):
    make_gtsrb(tmp_path)
    (tmp_path / "GT-final_test.csv").unlink()
    with pytest.raises(DataError, match="GT-final_test.csv not found .*GTSRB_Final_Test_GT.zip"):
        GTSRB(data_root=str(tmp_path), split="test")


def test_missing_dataset_folder_names_both_places(tmp_path):
    with pytest.raises(DataError, match="Food-101 not found: neither .*food-101/meta"):
        Food101(data_root=str(tmp_path), split="train")
    with pytest.raises(DataError, match="unknown Flowers-102 split 'trainval'"):
        Flowers102(data_root=str(tmp_path), split="trainval")
