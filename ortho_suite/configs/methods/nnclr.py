# NNCLR (Dwibedi et al., ICCV 2021) as LightlySSL's CIFAR-10 benchmark trains it
# (docs/source/getting_started/benchmarks/cifar10_benchmark.py, NNCLRModel): each view's projection
# is swapped for its nearest neighbour in a support set of past projections (view 2's), which is
# the positive of the other view's prediction; NT-Xent (LightlySSL's NTXentLoss, temperature 0.5)
# averaged over the two pairings. Algorithm: ortho_suite/models/lightly_algorithms.py NNCLR; loss:
# ortho_suite/losses.py nnclr_loss, nearest_neighbours. Deviations (listed in the algorithm's
# docstring): the suite's CIFAR ResNet-18; the support set stores normalized rows. LightlySSL trains
# it with its SimCLR views (jitter strength 0.5, no blur; nearest suite recipe:
# solo_cifar_symmetric_weak, which blurs) and SGD lr 0.06 x batch / 128, momentum 0.9, wd 5e-4, cosine.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/lightly_mlp2_projector.py']

model = dict(
    algorithm='NNCLR',  # ortho_suite/models/lightly_algorithms.py
    queue_size=4096,  # NNMemoryBankModule(size=4096); LightlySSL's batch-512 rows: 8192
    temperature=0.5,  # NTXentLoss() default
    neck=dict(hid_channels=2048, out_channels=256),  # SimCLRProjectionHead(512, 2048, 256)
    head=dict(
        type='LatentPredictHead',  # holds the predictor; NNCLR scores with losses.nnclr_loss
        loss=dict(type='CosineSimilarityLoss', shift_factor=1.0, scale_factor=1.0),  # unused
        # NNCLRPredictionHead(256, 4096, 256): Linear - BN - ReLU - Linear(bias)
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,  # = neck.out_channels (set by ortho_suite.train.compose)
            hid_channels=4096,
            out_channels=256,  # = neck.out_channels
            num_layers=2,
            with_bias=False,
            with_last_bn=False,
            with_last_bias=True,
            with_avg_pool=False,
            norm_cfg=dict(type='BN1d'))),
)
