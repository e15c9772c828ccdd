# VICReg (Bardes, Ponce, LeCun, ICLR 2022): invariance / variance / covariance weights 25 / 25 / 1
# (official main_vicreg.py); 3-layer expander of width 2048 as solo-learn's CIFAR vicreg.yaml
# (proj 2048 -> 2048) uses. Loss: ortho_suite/losses.py vicreg_loss.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py']

model = dict(
    type='EncoderRegularized',  # ortho_suite/models/encoder_regularized.py
    algorithm='VICReg',  # ortho_suite/models/algorithms.py
    encoder_regularizer=dict(kind='none'),  # set by --reg
    sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0,
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
