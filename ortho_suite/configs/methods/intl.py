# INTL (Weng et al., ICLR 2024; official code): projector width 2048 (cifar/cfg.py projection
# 2048/2048) with 3 layers (the ImageNet cfg.py's projection_layers 3; the CIFAR layer count and
# bias layout are not in our reference notes, so the VICReg layout is used), IterNorm with T = 4
# Newton iterations over the batch (axis 0), trace-loss weight beta = 0.01 (log2(batch) - 3) when
# None. Loss: ortho_suite/losses.py intl_loss.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/mlp3_projector.py']  # brings encoder_regularized.py

model = dict(
    algorithm='INTL',  # ortho_suite/models/algorithms.py
    iters=4,
    beta=None,
)
