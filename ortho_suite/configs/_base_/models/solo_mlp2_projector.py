# solo-learn's projector: Linear - BN - ReLU - Linear, both with biases (NNBYOL, SwAV, W-MSE);
# each method sets its widths (proj_hidden_dim, proj_output_dim of its solo-learn script).
_base_ = ['encoder_regularized.py']
model = dict(
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=None,  # the method's proj_hidden_dim
        out_channels=None,  # the method's proj_output_dim
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_last_bias=True,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')))
