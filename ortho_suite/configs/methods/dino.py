# DINO (Caron et al., ICCV 2021) without multi-crop, as solo-learn trains it on CIFAR and as the
# OR paper runs it (scripts/pretrain/cifar/dino.yaml, solo/methods/dino.py, solo/losses/dino.py):
# student and EMA teacher (backbone + DINO head); cross-entropy of the centred, sharpened teacher
# distribution of each view against the student's of the other view. Algorithm:
# ortho_suite/models/ema_algorithms.py DINO; loss: ortho_suite/losses.py dino_loss, dino_center.
# Deviations: the teacher's EMA step k uses m_k where solo-learn uses m_(k-1) (mmselfsup's CosineEMA
# counts its updates from the first iteration; the two schedules differ by one iteration);
# solo-learn's gradient clipping (clip_grad) is not implemented (0, i.e. off, in its recipe).
# solo-learn pairs it with the asymmetric views (--aug solo_cifar_asymmetric) and LARS lr 0.3,
# wd 1e-6 (configs/recipes/cifar10/dino.py, used by `pretrain` on CIFAR).
# Multi-crop (issue 23): --aug dino_cifar_multicrop (32 px: 2 global + 6 local crops of 18 px) or
# --aug dino_imagenet_multicrop (224 px: 2 global + 8 local crops of 96 px, the official ViT
# defaults) set model.local_crops (--cfg-options model.local_crops=N changes it; without it, or
# with 0, DINO trains on two crops exactly as above). As facebookresearch/dino: the teacher sees
# the two global crops only (main_dino.py line 318), the student all crops, one backbone + head
# forward per resolution (utils.py MultiCropWrapper lines 594-629); the loss averages the
# cross-entropy over all 2 (2 + N) - 2 (teacher global i, student crop j != i) pairs, dividing by
# their number (DINOLoss lines 380-404); the centre follows the teacher's global outputs (line
# 403). Deviations: the head runs per resolution, not once on all crops' features (equal unless
# model.neck.with_bn=True); the global crops share one forward with local crops (batch-norm
# statistics over both, as the official code) but one forward each without; no local crops on
# ViT backbones (no position-embedding interpolation here); the crop recipes' sources and
# choices are in configs/augmentations/dino_*_multicrop.py. The OR paper's Table 3 runs DINO
# without multi-crop.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='DINO',  # ortho_suite/models/ema_algorithms.py
    base_momentum=0.9995,  # dino.yaml momentum.base_tau
    end_momentum=1.0,  # dino.yaml momentum.final_tau
    student_temp=0.1,  # solo-learn's default student_temperature
    teacher_temp=0.07,  # solo-learn's default teacher_temperature
    warmup_teacher_temp=0.04,  # solo-learn's default warmup_teacher_temperature
    # solo-learn's default warmup_teacher_temperature_epochs is 0 (its yaml-era DINO; dino.yaml
    # does not set it): the teacher temperature is 0.07 from the first epoch
    warmup_teacher_temp_epochs=0,
    center_momentum=0.9,  # solo-learn DINOLoss center_momentum
    freeze_last_layer_epochs=1,  # solo-learn's default freeze_last_layer
    neck=dict(
        type='DINOProjector',  # ortho_suite/models/ema_algorithms.py
        in_channels=512,  # set from the backbone by ortho_suite.train.compose
        hid_channels=2048,  # dino.yaml proj_hidden_dim
        out_channels=256,  # dino.yaml proj_output_dim (the bottleneck)
        num_prototypes=4096,  # dino.yaml num_prototypes
        num_layers=3,  # solo-learn DINOHead's default
        with_bn=False,  # solo-learn's default use_bn_in_head
        norm_last_layer=True,  # solo-learn's default norm_last_layer
        with_avg_pool=True),
)
