# WideResNet-28-2 as solo-learn's wide_resnet28w2 (the OR paper's WRN rows, Table 10): 3x3 stem to
# 16 channels, three groups of four pre-activation blocks (32, 64, 128 channels), biased convs,
# LeakyReLU 0.1, BN momentum/eps 0.001, final BN-LeakyReLU; ortho_suite/models/wide_resnet.py.
# `width` is the stem's 16 in the papers; CPU profiles shrink it (the representation has
# 4 * width * widen_factor dims: 128 at full width).
model = dict(
    backbone=dict(
        type='WideResNet',
        depth=28,
        widen_factor=2,
        width=16,
        drop_rate=0.0,  # solo-learn's default; it never sets another
        in_channels=3,
        out_indices=[3]))
