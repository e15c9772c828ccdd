# MoCo v3 on a ViT backbone on CIFAR-10: solo-learn has no CIFAR ViT script for MoCo v3 (only
# scripts/pretrain/cifar/mocov3.yaml, a ResNet-18 with LARS), so the paper's ImageNet ViT recipe
# (AdamW, lr 1.5e-4 per 256, weight decay 0.1, 40 warm-up epochs, cosine) is used as it is;
# see ../imagenet/mocov3.py. cifar100/ inherits this file.
_base_ = ['../imagenet/mocov3.py']

optim_recipe = dict(source='facebookresearch/moco-v3 CONFIG.md (ViT, AdamW) and main_moco.py; '
                           'no CIFAR ViT recipe in solo-learn or the paper')
