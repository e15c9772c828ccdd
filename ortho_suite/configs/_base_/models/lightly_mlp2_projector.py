# LightlySSL's 2-layer CIFAR projector (SimCLRProjectionHead in its CIFAR-10 benchmark): Linear - BN -
# ReLU - Linear - BN, no biases (DCL, DCLW, NNCLR); each method sets its widths.
_base_ = ['encoder_regularized.py']
model = dict(
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=None,  # the method's hidden width
        out_channels=None,  # the method's output width
        num_layers=2,
        with_bias=False,
        with_last_bn=True,
        with_last_bias=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')))
