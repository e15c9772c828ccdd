# INTL (Weng et al., ICLR 2024; official cifar/ code): 3-layer projector 2048 -> 2048 (cifar/cfg.py
# projection 2048/2048), IterNorm with T = 4 Newton iterations over the batch (axis 0), trace-loss
# weight beta = 0.01 (log2(batch) - 3) when None. Loss: ortho_suite/losses.py intl_loss.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py']

model = dict(
    type='EncoderRegularized',  # ortho_suite/models/encoder_regularized.py
    algorithm='INTL',  # ortho_suite/models/algorithms.py
    encoder_regularizer=dict(kind='none'),  # set by --reg
    iters=4,
    beta=None,
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,  # set from the backbone by ortho_suite.pretrain
        hid_channels=2048,
        out_channels=2048,
        num_layers=3,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
)
