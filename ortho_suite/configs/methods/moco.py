# MoCo v2 (He et al., CVPR 2020; Chen et al. 2020) as LightlySSL's CIFAR-10 benchmark trains it
# (docs/source/getting_started/benchmarks/cifar10_benchmark.py, MocoModel): symmetric InfoNCE of
# each view's query against the other view's momentum key and a memory bank of past keys (one bank,
# written after each of the two terms), temperature 0.1, momentum 0.99 constant (no schedule).
# Algorithm: ortho_suite/models/lightly_algorithms.py LightlyMoCo; loss: ortho_suite/losses.py
# moco_infonce_loss. Deviations (listed in the algorithm's docstring): ordinary batch norm instead
# of LightlySSL's 8-split batch norm and key shuffling; the suite's CIFAR ResNet-18. LightlySSL
# trains it with its SimCLR views (jitter strength 0.5, no blur; nearest suite recipe:
# solo_cifar_symmetric_weak, which blurs) and SGD lr 0.06 x batch / 128, momentum 0.9, wd 5e-4, cosine.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='LightlyMoCo',  # ortho_suite/models/lightly_algorithms.py
    base_momentum=0.99,  # utils.update_momentum(..., 0.99) every step
    end_momentum=0.99,  # constant: LightlySSL's CIFAR-10 MoCo has no momentum schedule
    queue_size=4096,  # NTXentLoss(memory_bank_size=4096); LightlySSL's batch-512 rows: 8192
    temperature=0.1,  # NTXentLoss(temperature=0.1)
    # MoCoProjectionHead(512, 512, 128): Linear(bias) - ReLU - Linear(bias), no batch norm
    neck=dict(
        type='MoCoV2Neck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=512,
        out_channels=128,
        with_avg_pool=True),
)
