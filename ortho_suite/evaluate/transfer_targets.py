"""``ortho-suite evaluate --transfer``: the transfer linear evaluation of a frozen encoder on other
datasets (OR Table 6), with the ``kornblith_lbfgs`` probe of :mod:`.transfer`.

For every target (catalog.TRANSFER_TARGETS: the transfer datasets of ortho_suite/datasets/
transfer.py, and CIFAR-10/100 as targets), the frozen encoder's representations (the pooled
backbone output, as for the in-domain probe) of the target's train, validation (where it has an
official one) and test splits are extracted once, without augmentation, and the probe is fitted
on them; the record goes to ``metrics.json`` under ``transfer``.

**The view.** Kornblith, Shlens, Le (CVPR 2019, Sec. 3) and the transfer tables of SimCLR
(App. B.8) and BYOL (App. D) that follow them resize every target image to the network's input,
224 px for ImageNet networks: the shorter side to 224 (bicubic), then the central 224 x 224 crop
(configs/_base_/datasets/transfer_folder.py's ``feature_data``). The suite uses that view at
*the encoder's input size*, the crop size its pretraining dataset works at
(``catalog.DATASETS[<run's dataset>].image_size``: 224 for the ImageNet and transfer-dataset
encoders, 32 for the CIFAR / Fashion-MNIST / synthetic ones). CIFAR's 32 px images are therefore
upsampled to 224 (bicubic; the centre crop of a square image is the whole image) for an ImageNet
encoder, and fed as they are to a 32 px encoder. The images are normalized by the encoder's own
data preprocessor (its pretraining mean and std), as for its in-domain evaluation.

Everything is checked before a feature is extracted or a file written: the names (an unknown
one is a UsageError), ``--transfer-root`` and each target's files (the loaders' DataError: missing
folders, metadata, images, a CIFAR checksum). An image that cannot be decoded stops the
evaluation with a DataError naming it before metrics.json is written.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch

from .. import catalog
from ..errors import DataError, UsageError
from .transfer import transfer_linear_probe

# The probe protocol every target is evaluated with (ortho_suite/evaluate/transfer.py).
TRANSFER_PROTOCOL = "kornblith_lbfgs"
# Images per forward pass of the frozen encoder.
BATCH_SIZE = 256


def encoder_image_size(cfg) -> int:
    """The input size of a run's encoder: the crop size of its pretraining dataset."""
    return catalog.lookup("datasets", cfg.ortho_suite["dataset"]).image_size


def _target_config(name: str):
    from mmengine.config import Config

    return Config.fromfile(catalog.config_path(catalog.lookup("datasets", name)))


def view_pipeline(target_cfg, native_size: int, size: int) -> list:
    """The target's evaluation view (its ``feature_data`` pipeline) at ``size`` px: the transfer
    datasets' resize-and-centre-crop with its 224 replaced by ``size``; for an in-memory dataset
    (CIFAR, ``native_size`` px) the same resize and crop inserted before the packing when
    ``size`` differs from its own size, else its view unchanged."""
    pipeline = copy.deepcopy(list(target_cfg.feature_data.pipeline))
    types = [t["type"] for t in pipeline]
    if "mmcls.ResizeEdge" in types:
        for t in pipeline:
            if t["type"] == "mmcls.ResizeEdge":
                t["scale"] = size
            elif t["type"] == "CenterCrop":
                t["crop_size"] = size
        return pipeline
    if size == native_size:
        return pipeline
    resize = [dict(type="mmcls.ResizeEdge", scale=size, edge="short", backend="pillow",
                   interpolation="bicubic"),
              dict(type="CenterCrop", crop_size=size)]
    return pipeline[:-1] + resize + pipeline[-1:]


def prepare_targets(cfg, names, root) -> dict:
    """Every target's splits as datasets with the evaluation view at the encoder's size, built
    (and so checked: the loaders raise DataError for missing or damaged files) before anything
    is extracted. name -> {"size", "view", "splits": {role: (split, dataset)}}."""
    from ..build import build_dataset

    if not names:
        return {}
    if root is None or str(root) == "":
        raise UsageError("--transfer needs --transfer-root: the folder holding each target's "
                         "data as its loader reads it (food-101/, flowers-102/, dtd/, GTSRB/ and "
                         "GT-final_test.csv, cifar-10-batches-py/ or cifar-10-python.tar.gz, ...)")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"--transfer-root {root} is not a folder")
    size = encoder_image_size(cfg)
    targets = {}
    for name in names:
        target_cfg = _target_config(name)
        native = catalog.lookup("datasets", name).image_size
        pipeline = view_pipeline(target_cfg, native, size)
        data = target_cfg.feature_data
        roles = {"train": data.train_split, "val": data.get("val_split"), "test": data.test_split}
        splits = {}
        for role, split in roles.items():
            if split is None:
                continue
            dataset_cfg = copy.deepcopy(target_cfg.train_dataloader.dataset)
            dataset_cfg.pop("indices", None)
            dataset_cfg.data_root = str(root)
            dataset_cfg.split = split
            dataset_cfg.pipeline = pipeline
            splits[role] = (split, build_dataset(cfg, dataset_cfg))
        view = (f"shorter side resized to {size} (bicubic), central {size} crop"
                if any(t["type"] == "mmcls.ResizeEdge" for t in pipeline)
                else f"as stored ({native} px, the encoder's size)")
        targets[name] = {"size": size, "view": view, "splits": splits}
    return targets


def _features(model, name: str, split: str, dataset, device) -> dict:
    from ..features import extract

    try:
        return extract(model, dataset, BATCH_SIZE, device, f"transfer {name} {split}")
    except OSError as err:  # PIL: truncated or unidentifiable image files
        text = " ".join(str(err).split())[:200]
        raise DataError(f"{name} {split}: an image cannot be read ({type(err).__name__}: {text}); "
                        "restore it from the official archive") from None


def evaluate_targets(model, targets: dict, device, seed: int = 0) -> dict:
    """The transfer record of every prepared target (:func:`prepare_targets`), in order. The
    global random streams are left as they were."""
    out = {}
    with torch.random.fork_rng(devices=[]):
        for name, target in targets.items():
            feats = {role: _features(model, name, split, dataset, device)
                     for role, (split, dataset) in target["splits"].items()}
            train, test, val = feats["train"], feats["test"], feats.get("val")
            print(f"transfer {name}: {TRANSFER_PROTOCOL} probe on {len(train['labels'])} train "
                  f"images", file=sys.stderr)
            probe = transfer_linear_probe(
                train["representation"], train["labels"], test["representation"],
                test["labels"], val_feats=None if val is None else val["representation"],
                val_labels=None if val is None else val["labels"],
                protocol_name=TRANSFER_PROTOCOL, seed=seed)
            num_classes = len(target["splits"]["train"][1].metainfo.get("classes", ())) or int(
                max(train["labels"].max(), test["labels"].max())) + 1
            record = {"top1": probe["top1"],
                      # top-5 only where it says something (more than 5 classes)
                      "top5": probe["top5"] if num_classes > 5 else None,
                      "l2": probe["l2"], "val_top1": probe["val_top1"],
                      "protocol": probe["protocol"], "validation": probe["validation"],
                      "train": len(train["labels"]),
                      "val": None if val is None else len(val["labels"]),
                      "test": len(test["labels"]), "n_fit": probe["n_fit"],
                      "n_val": probe["n_val"], "classes": num_classes,
                      "image_size": target["size"], "view": target["view"],
                      "final_grad_max": probe["final_grad_max"],
                      "val_curve": probe["val_curve"]}
            out[name] = record
    return out
