# SimCLR (Chen et al., ICML 2020) with mmselfsup's implementation: NT-Xent over 2N views,
# 2-layer MLP projector. Projector widths follow mmselfsup's simclr_resnet50 config
# (hidden 2048, output 128, temperature 0.1); per-dataset recipes are set in the paper tables.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='SimCLR',
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='mmcls.CrossEntropyLoss'),
        temperature=0.1),
)
