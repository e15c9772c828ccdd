# MoCo v3 on a ViT backbone, the paper's recipe (Chen, Xie, He, ICCV 2021): facebookresearch/moco-v3
# (c349e6e) CONFIG.md's ViT-Small and ViT-Base pre-training commands (lines 109-113, 126-130,
# 156-160: --optimizer=adamw --lr=1.5e-4 --weight-decay=.1 --epochs=300 --warmup-epochs=40) and
# main_moco.py: torch.optim.AdamW over all parameters at torch's defaults (betas (0.9, 0.999), eps
# 1e-8; lines 228-230; ../../_base_/adamw.py), weight decay on every tensor, lr = 1.5e-4 x
# the global batch / 256 (line 190); adjust_learning_rate (lines 420-428), called every
# iteration (line 342): linear from 0 over the first 40 epochs, then a half-cycle cosine to 0 at
# the end of training. The published models use batch 4096 (CONFIG.md line 183), the one-node
# setup 1024 (line 109); the batch is a cfg_option of the run, the epochs (300) --epochs.
# The recipes of every dataset without a solo-learn ViT script inherit this one (cifar10/,
# cifar100/); imagenet100/ follows solo-learn's mocov3_vit.yaml.
# Deviations: the warm-up starts at 1e-12 x lr (mmengine's LinearLR cannot start at 0); the paper
# has no online linear probe, whose rate here is the pretraining rate (classifier_lr = base_lr, as
# solo-learn's ViT script sets them); the heads' and the backbone's deviations are in
# configs/methods/vit/mocov3.py.
_base_ = ['../../_base_/adamw.py']

optim_wrapper = dict(optimizer=dict(weight_decay=0.1))  # --weight-decay=.1
# 40 warm-up epochs from 0 (--warmup-epochs=40), then cosine to 0, per iteration; the cosine's end
# follows --epochs (ortho_suite.train.compose)
param_scheduler = [
    dict(type='LinearLR',
         start_factor=None,  # warmup_start_lr 0 -> compose.WARMUP_FROM_ZERO
         by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0,
         by_epoch=True, begin=40, end=300, T_max=260, convert_to_iter_based=True),
]
optim_recipe = dict(
    source='facebookresearch/moco-v3 CONFIG.md (ViT, AdamW) and main_moco.py',
    base_lr=1.5e-4,  # --lr=1.5e-4, per 256 images (main_moco.py line 190)
    base_batch_size=256,
    warmup_start_lr=0.0,  # adjust_learning_rate: lr x epoch / warmup_epochs from epoch 0
    classifier_lr=1.5e-4,  # the online probe's (no such probe in the paper): = base_lr
)
