# ResNet-18 with the CIFAR stem (3x3 conv, stride 1, no max-pool): the backbone of the OR paper's
# CIFAR tables (solo-learn / LightlySSL setups) and of INTL's CIFAR experiments.
# `width` is 64 in the papers; CPU profiles shrink it (the representation has 8 * width dims).
model = dict(
    backbone=dict(
        type='ResNetCIFAR',
        depth=18,
        width=64,
        stem_padding=1,  # solo-learn (the OR paper's CIFAR runs) uses 2
        in_channels=3,
        out_indices=[4],
        norm_cfg=dict(type='BN'),
        zero_init_residual=True))
