# SimSiam (Chen, He, CVPR 2021) with mmselfsup's implementation, at solo-learn's CIFAR recipe
# (scripts/pretrain/cifar/simsiam.yaml, solo/methods/simsiam.py, solo/losses/simsiam.py): the
# predictor's output of each view regresses the other view's projection under stop-gradient,
# loss -(cos(p1, z2) + cos(p2, z1)) / 2. solo-learn pairs it with the symmetric_weak views
# (--aug solo_cifar_symmetric_weak) and SGD lr 0.5, wd 1e-5, the predictor's lr not decayed
# (configs/recipes/).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='SimSiam',
    # solo-learn's projector: (Linear - BN - ReLU) x 2 - Linear - BN(affine=False), hidden layers
    # without bias; solo-learn's last Linear has a frozen bias, which the BN that follows cancels
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=2048,  # simsiam.yaml proj_hidden_dim
        out_channels=2048,  # simsiam.yaml proj_output_dim
        num_layers=3,
        with_bias=False,
        with_last_bn=True,
        with_last_bn_affine=False,
        with_last_bias=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),  # -cos(p, z), mean over the batch
        # solo-learn's predictor: Linear(no bias) - BN - ReLU - Linear(bias)
        predictor=dict(
            type='NonLinearNeck',
            in_channels=2048,  # = neck.out_channels (set by ortho_suite.train.compose)
            hid_channels=512,  # simsiam.yaml pred_hidden_dim
            out_channels=2048,  # = neck.out_channels
            num_layers=2,
            with_bias=False,
            with_last_bn=False,
            with_last_bias=True,
            with_avg_pool=False,
            norm_cfg=dict(type='BN1d'))),
)
