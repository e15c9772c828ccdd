# MoCo v3 (Chen, Xie, He, ICCV 2021) with mmselfsup's implementation, at solo-learn's CIFAR recipe
# (scripts/pretrain/cifar/mocov3.yaml, solo/methods/mocov3.py, solo/losses/mocov3.py): the online
# network's prediction of each view is contrasted with the momentum network's projection of the
# other view over the whole batch (keys gathered across processes without gradient),
# cross-entropy scaled by 2 * temperature, summed over the two directions. solo-learn pairs it
# with the asymmetric views (--aug solo_cifar_asymmetric) and LARS lr 0.3, wd 1e-6
# (configs/recipes/).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='MoCoV3',
    base_momentum=0.99,  # mocov3.yaml momentum.base_tau; final_tau 1.0 = CosineEMA's end
    # solo-learn's ResNet projector: Linear - BN - ReLU - Linear - BN(affine=False), no biases
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=4096,  # mocov3.yaml proj_hidden_dim
        out_channels=256,  # mocov3.yaml proj_output_dim
        num_layers=2,
        with_bias=False,
        with_last_bn=True,
        with_last_bn_affine=False,
        with_last_bias=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    head=dict(
        type='MoCoV3Head',
        # solo-learn's ResNet predictor: Linear - BN - ReLU - Linear, no biases, no last BN
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,  # = neck.out_channels (set by ortho_suite.train.compose)
            hid_channels=4096,  # mocov3.yaml pred_hidden_dim
            out_channels=256,  # = neck.out_channels
            num_layers=2,
            with_bias=False,
            with_last_bn=False,
            with_last_bias=False,
            with_avg_pool=False,
            norm_cfg=dict(type='BN1d')),
        loss=dict(type='mmcls.CrossEntropyLoss',
                  loss_weight=0.4),  # = 2 * temperature (set by ortho_suite.train.compose)
        temperature=0.2),  # mocov3.yaml temperature
)
