"""The ImageNet linear-probe protocol on images: a linear head on the frozen backbone, trained on
freshly augmented images every epoch (the ``imagenet`` protocol of ortho_suite/probes.py, as
INTL's ImageNet-100 evaluation after MoCo's main_lincls)."""
from __future__ import annotations

import sys

import torch
from tqdm import tqdm

from .. import probes
from ..build import feature_dataset
from ..features import sample_labels


def augmented_probe(model, cfg, protocol: probes.ProbeProtocol, device,
                    test: dict, epochs: int | None = None, seed: int = 0) -> dict:
    """A linear head on the frozen backbone, trained on freshly augmented images every epoch
    (random resized crop of the evaluation size and flip), tested on the cached features of the
    evaluation view (``test``: representation and labels)."""
    import torch.nn.functional as F
    from mmengine.dataset import default_collate

    test_pipeline = cfg.feature_data.pipeline
    crop = next(t for t in test_pipeline if t["type"] == "CenterCrop")["crop_size"]
    train_cfg = cfg.copy()
    train_cfg.feature_data = dict(cfg.feature_data, pipeline=[
        test_pipeline[0],
        dict(type="RandomResizedCrop", size=crop, backend="pillow"),
        dict(type="RandomFlip", prob=0.5),
        test_pipeline[-1]])
    train_set = feature_dataset(train_cfg, cfg.feature_data.train_split)
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=protocol.batch_size, shuffle=True,
                                         num_workers=0, collate_fn=default_collate,
                                         generator=generator)
    num_classes = len(train_set.metainfo["classes"])
    head = torch.nn.Linear(test["representation"].shape[1], num_classes).to(device)
    with torch.no_grad():  # N(0, 0.01) weights and zero bias, as MoCo's main_lincls
        head.weight.copy_(torch.randn(head.weight.shape, generator=generator) * 0.01)
        head.bias.zero_()
    opt = torch.optim.SGD(head.parameters(), lr=protocol.lr, momentum=protocol.momentum,
                          weight_decay=protocol.weight_decay)
    total = epochs or protocol.epochs
    loss = torch.tensor(float("nan"))
    for epoch in tqdm(range(total), desc=f"linear probe ({protocol.name})", unit="epoch",
                      file=sys.stderr, mininterval=2.0):
        for group in opt.param_groups:
            group["lr"] = probes.lr_at(protocol, epoch * protocol.epochs / total)
        for data in loader:
            with torch.no_grad():
                views, samples = model.data_preprocessor(data, training=False)
                feats = model.backbone(views[0])[-1].mean(dim=(2, 3))
            labels = sample_labels(samples).to(device)
            loss = F.cross_entropy(head(feats), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        scores = head(test["representation"].to(device)).cpu()
    result = probes.topk_accuracy(scores, test["labels"])
    result.update(protocol=protocol.name, epochs=total, final_train_loss=loss.item())
    return result
