"""Frozen features of a run's model: extraction, and the cache keyed by the checkpoint.

Used by the evaluation (both splits, all of them unless a profile takes fewer; cached) and by the online monitor during training
(a few thousand images every epoch, never cached).
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from tqdm import tqdm

from . import provenance
from .build import feature_dataset
from .runs import FEATURES_FILE

# How many test images the spectra of hidden features and the embedding use (4,096 in the OR paper).
SPECTRAL_BATCH = 4096


def sample_labels(samples) -> torch.Tensor:
    """Class labels of a batch of packed data samples (mmselfsup stores them as LabelData)."""
    return torch.as_tensor([int(s.gt_label.value) for s in samples])


def _batches(dataset, batch_size: int):
    """``(batch, labels)`` in index order. An in-memory dataset whose pipeline packs only the
    image and its label is sliced from its arrays (the batches mmengine's DataLoader and
    default_collate make, bitwise, without the per-image pipeline: 1.6 s of 4.6 s for 10,000
    Fashion-MNIST images at width 8 on the 2-core CPU); any other through the DataLoader."""
    from mmengine.dataset import default_collate

    from .datasets.base import ArrayImageDataset, channels_first, packs_only

    if isinstance(dataset, ArrayImageDataset) and packs_only(dataset, keys=("gt_label",)):
        dataset.full_init()
        for start in range(0, len(dataset), batch_size):
            stop = start + batch_size
            yield ({"inputs": [channels_first(dataset.images[start:stop])], "data_samples": None},
                   torch.from_numpy(dataset.labels[start:stop]))
        return
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                         num_workers=0, collate_fn=default_collate)
    for data in loader:
        yield data, sample_labels(data["data_samples"])


@torch.no_grad()
def extract(model, dataset, batch_size: int, device: torch.device, desc: str,
            spectral: int = 0, progress: bool = True) -> dict:
    """Representations of every image; for the first ``spectral`` images also each stage's pooled
    output and the projector's embedding."""
    backbone = model.backbone
    saved_indices = backbone.out_indices
    # every stage (a backbone may name its own, e.g. a ViT's blocks); the last is the representation
    backbone.out_indices = getattr(backbone, "feature_stages", (1, 2, 3, 4))
    reps, labels, hidden, embeds = [], [], None, []
    seen = 0
    try:
        batches = -(-len(dataset) // batch_size)
        for data, batch_labels in tqdm(_batches(dataset, batch_size), total=batches, desc=desc,
                                       unit="batch", file=sys.stderr, mininterval=2.0,
                                       disable=not progress):
            views, _ = model.data_preprocessor(data, training=False)
            stages = backbone(views[0])
            pooled = [s.mean(dim=(2, 3)) for s in stages]
            reps.append(pooled[-1].float().cpu())
            labels.append(batch_labels)
            if seen < spectral:
                take = min(spectral - seen, len(pooled[-1]))
                if hidden is None:
                    hidden = [[] for _ in pooled]
                for store, p in zip(hidden, pooled):
                    store.append(p[:take].double().cpu())
                if getattr(model, "neck", None) is not None:
                    embeds.append(model.neck((stages[-1][:take],))[0].double().cpu())
                seen += take
    finally:
        backbone.out_indices = saved_indices
    out = {"representation": torch.cat(reps), "labels": torch.cat(labels)}
    if hidden is not None:
        out["hidden"] = {f"stage{i + 1}": torch.cat(h) for i, h in enumerate(hidden)}
        out["embedding"] = torch.cat(embeds) if embeds else None
    return out


def cached_features(model, cfg, checkpoint: Path, cache_dir: Path, device,
                    batch_size: int = 512, train_images: int | None = None,
                    test_images: int | None = None) -> dict:
    """Train and test features of ``model`` (the test split with the spectral batch), from
    ``cache_dir/features.pt`` when it was extracted from the same checkpoint (by MD5) and the
    same images. ``train_images``/``test_images`` take the first N images of a split (None: all)."""
    key = provenance.file_md5(checkpoint)
    images = {"train": train_images, "test": test_images}
    path = cache_dir / FEATURES_FILE
    if path.is_file():
        cached = torch.load(path, map_location="cpu", weights_only=False)
        if cached.get("checkpoint_md5") == key and cached.get("images") == images:
            return cached
    train = extract(model, feature_dataset(cfg, cfg.feature_data.train_split, train_images),
                    batch_size, device, "features train")
    test = extract(model, feature_dataset(cfg, cfg.feature_data.test_split, test_images),
                   batch_size, device, "features test", spectral=SPECTRAL_BATCH)
    features = {"checkpoint_md5": key, "images": images, "train": train, "test": test}
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{FEATURES_FILE}.tmp"
    torch.save(features, tmp)
    tmp.replace(path)
    return features
