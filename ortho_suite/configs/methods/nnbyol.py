# NNBYOL (solo-learn; NNCLR's nearest-neighbour target, Dwibedi et al., ICCV 2021, in BYOL), as
# solo-learn trains it on CIFAR and as the OR paper runs it (scripts/pretrain/cifar/nnbyol.yaml,
# solo/methods/nnbyol.py): the online prediction of each view regresses the nearest neighbour, in
# a queue of past target projections, of the EMA target's projection of the other view.
# Algorithm: ortho_suite/models/ema_algorithms.py NNBYOL; loss: ortho_suite/losses.py byol_loss,
# nearest_neighbours. Deviations: the target's EMA step k uses m_k where solo-learn uses m_(k-1)
# (mmselfsup's CosineEMA); solo-learn's nearest-neighbour accuracy metric (queue labels) is not
# kept. solo-learn pairs it with the asymmetric views (--aug solo_cifar_asymmetric) and LARS lr
# 1.0, wd 1e-5 (configs/recipes/cifar10/nnbyol.py).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/solo_mlp2_projector.py']

model = dict(
    algorithm='NNBYOL',  # ortho_suite/models/ema_algorithms.py
    base_momentum=0.99,  # nnbyol.yaml momentum.base_tau
    end_momentum=1.0,  # nnbyol.yaml momentum.final_tau
    queue_size=65536,  # nnbyol.yaml queue_size (a multiple of the global batch)
    # solo-learn's projector (_base_/models/solo_mlp2_projector.py)
    neck=dict(
        hid_channels=4096,  # nnbyol.yaml proj_hidden_dim
        out_channels=256,  # nnbyol.yaml proj_output_dim
    ),
    head=dict(
        type='LatentPredictHead',  # holds the predictor; NNBYOL scores with losses.byol_loss
        loss=dict(type='CosineSimilarityLoss', shift_factor=1.0, scale_factor=1.0),  # unused
        # solo-learn's predictor: Linear - BN - ReLU - Linear, both with biases
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,  # = neck.out_channels (set by ortho_suite.train.compose)
            hid_channels=4096,  # nnbyol.yaml pred_hidden_dim
            out_channels=256,  # = neck.out_channels
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_last_bias=True,
            with_avg_pool=False,
            norm_cfg=dict(type='BN1d'))),
)
