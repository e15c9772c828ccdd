# MoCo v2+ as solo-learn trains it on CIFAR (scripts/pretrain/cifar/mocov2plus.yaml,
# solo/methods/mocov2plus.py): symmetric InfoNCE of each view's query against the other view's
# momentum key and a queue of that view's past keys, mean of the two directions. Algorithm:
# ortho_suite/models/algorithms.py MoCoV2Plus (mmselfsup's MoCo made symmetric, one queue per view,
# cosine momentum). solo-learn pairs it with the symmetric_weak views (--aug
# solo_cifar_symmetric_weak) and SGD lr 0.3, wd 1e-4, warm-up cosine (configs/recipes/).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='MoCoV2Plus',  # ortho_suite/models/algorithms.py
    queue_len=32768,  # mocov2plus.yaml queue_size (per view)
    feat_dim=256,  # = neck.out_channels (set by ortho_suite.train.compose)
    base_momentum=0.99,  # mocov2plus.yaml momentum.base_tau
    end_momentum=0.999,  # mocov2plus.yaml momentum.final_tau
    # solo-learn's projector: Linear(bias) - ReLU - Linear(bias), no batch norm
    neck=dict(
        type='MoCoV2Neck',
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=2048,  # mocov2plus.yaml proj_hidden_dim
        out_channels=256,  # mocov2plus.yaml proj_output_dim
        with_avg_pool=True),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='mmcls.CrossEntropyLoss'),
        temperature=0.2),  # mocov2plus.yaml temperature
)
