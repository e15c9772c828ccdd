# Barlow Twins (Zbontar et al., ICML 2021) with mmselfsup's implementation: cross-correlation of
# the batch-normalized embeddings of the two views pushed to the identity, off-diagonal weight
# lambda = 0.0051, 3-layer MLP projector. Widths here are solo-learn's CIFAR ones (2048-2048);
# the ImageNet recipe (8192-8192) is set in the paper tables.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='BarlowTwins',
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=2048,
        out_channels=2048,
        num_layers=3,
        with_last_bn=False,
        with_last_bn_affine=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d'),
        init_cfg=dict(type='Kaiming', distribution='uniform', layer=['Linear'])),
    head=dict(
        type='LatentCrossCorrelationHead',
        in_channels=2048,  # = neck.out_channels (set by ortho_suite.train.compose)
        loss=dict(type='CrossCorrelationLoss', lambd=0.0051)),
)
