# BYOL (Grill et al., NeurIPS 2020) with mmselfsup's implementation: online network with an MLP
# predictor regresses the EMA target network's projection, symmetric over the two views; the EMA
# momentum follows a cosine schedule from base_momentum to 1. mmselfsup sums
# 2 * (loss(v1) + loss(v2)); with shift_factor=1 each term is 1 - cos, so the logged loss is
# BYOL's (2 - 2cos) + (2 - 2cos) exactly (mmselfsup's default, shift 0, logs the same minus 4).
# Widths follow mmselfsup's byol_resnet50 config (hidden 4096, output 256).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='BYOL',
    base_momentum=0.99,  # solo-learn's CIFAR byol.yaml: tau 0.99 -> 1.0
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss', shift_factor=1.0, scale_factor=1.0),
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,  # = neck.out_channels (set by ortho_suite.train.compose)
            hid_channels=4096,
            out_channels=256,  # = neck.out_channels
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=False,
            norm_cfg=dict(type='BN1d'))),
)
