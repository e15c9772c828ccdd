# SwAV (Caron et al., NeurIPS 2020) as solo-learn trains it on CIFAR with two 32 px crops, no
# multi-crop (scripts/pretrain/cifar/swav.yaml, solo/methods/swav.py, solo/losses/swav.py,
# solo/utils/sinkhorn_knopp.py): each view's Sinkhorn-Knopp codes over the prototypes are predicted
# from the other view. Algorithm: ortho_suite/models/algorithms.py SwAVSolo (solo-learn's
# weight-normalized prototypes, freezing and queue; see its docstring for how it differs from
# mmselfsup's SwAV). solo-learn pairs it with the symmetric views (--aug solo_cifar_symmetric) and
# LARS lr 0.6, wd 1e-6 (configs/recipes/).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/solo_mlp2_projector.py']

model = dict(
    algorithm='SwAVSolo',  # ortho_suite/models/algorithms.py
    feat_dim=128,  # = neck.out_channels (set by ortho_suite.train.compose)
    num_prototypes=3000,  # swav.yaml num_prototypes
    temperature=0.1,  # swav.yaml temperature
    sinkhorn_iterations=3,  # solo-learn's default sk_iters (swav.yaml does not set it)
    epsilon=0.05,  # solo-learn's default sk_epsilon (swav.yaml does not set it)
    queue_length=3840,  # swav.yaml queue_size (split across processes, as in solo-learn)
    epoch_queue_starts=50,  # swav.yaml epoch_queue_starts
    freeze_prototypes_epochs=2,  # swav.yaml freeze_prototypes_epochs
    # solo-learn's projector (_base_/models/solo_mlp2_projector.py); SwAVSolo L2-normalizes
    # its output (mmselfsup's SwAVNeck, the same layers, takes a list of crops, which the
    # feature extraction of `ortho-suite evaluate` does not give a neck)
    neck=dict(
        hid_channels=2048,  # swav.yaml proj_hidden_dim
        out_channels=128,  # swav.yaml proj_output_dim
    ),
)
