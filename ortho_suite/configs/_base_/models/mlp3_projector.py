# A 3-layer MLP projector (Linear-BN-ReLU, Linear-BN-ReLU, Linear), width 2048, biases on the
# hidden layers only: VICReg's official Projector layout, also used here for INTL.
_base_ = ['encoder_regularized.py']
model = dict(
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=2048,
        out_channels=2048,
        num_layers=3,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')))
