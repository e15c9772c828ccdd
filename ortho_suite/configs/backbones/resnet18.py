# ResNet-18 with the ImageNet stem (7x7 stride-2 conv, max-pool): the backbone of the
# ImageNet-100 tables (solo-learn, INTL); resnet50.py inherits it.
# `width` is 64 in the papers; CPU profiles shrink it (the representation has
# 8 * width dims).
model = dict(
    backbone=dict(
        type='ResNetScaled',
        depth=18,
        width=64,
        in_channels=3,
        out_indices=[4],
        norm_cfg=dict(type='BN'),
        zero_init_residual=True))
