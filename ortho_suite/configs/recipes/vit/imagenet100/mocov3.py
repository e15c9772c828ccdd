# MoCo v3 on a ViT backbone on ImageNet-100, solo-learn's recipe: vturrisi/solo-learn (9187ea3)
# scripts/pretrain/imagenet-100/mocov3_vit.yaml (vit_small, lines 16-17): AdamW (line 33) at
# torch's defaults (../../_base_/adamw.py), lr 3e-4 per
# 256 images (line 35; solo/args/pretrain.py lines 153-157 scale it and classifier_lr by the
# global batch / 256), classifier_lr 3e-4 (line 36), weight decay 0.1 (line 37) on every tensor
# (exclude_bias_n_norm_wd defaults to False, base.py lines 280-281), scheduler warmup_cosine (line
# 39) at its defaults: 10 warm-up epochs from 3e-5, cosine to 0, per step (base.py lines 290-294;
# ../../_base_/solo_warmup_cosine.py). Its batch is 128 per GPU on 8 GPUs (lines 34, 49), 1024 in
# all, and its 400 epochs (line 48) are the run's --epochs. solo-learn's lr is twice the paper's
# (1.5e-4, ../imagenet/mocov3.py) and its warm-up a quarter of the paper's 40 epochs.
# Deviations: the heads' and the backbone's, configs/methods/vit/mocov3.py (solo-learn's MoCo v3
# ViT, solo/backbones/vit/vit_mocov3.py, has the sin-cos position embedding, MoCo v3's init and 12
# heads, and no frozen patch projection either).
_base_ = ['../../_base_/solo_warmup_cosine.py', '../../_base_/adamw.py']

optim_wrapper = dict(optimizer=dict(weight_decay=0.1))  # mocov3_vit.yaml optimizer.weight_decay

optim_recipe = dict(source='solo-learn scripts/pretrain/imagenet-100/mocov3_vit.yaml',
                    base_lr=3e-4,  # mocov3_vit.yaml optimizer.lr
                    classifier_lr=3e-4)  # mocov3_vit.yaml optimizer.classifier_lr
