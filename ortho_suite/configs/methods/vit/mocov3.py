# MoCo v3 on a ViT backbone (catalog.ARCH_VARIANTS: the fragment a --method mocov3 run gets with
# vit_tiny / vit_small / vit_base): the ResNet fragment (../mocov3.py) with MoCo v3's ViT heads.
# facebookresearch/moco-v3 moco/builder.py (c349e6e) MoCo_ViT (lines 112-122) builds a 3-layer
# projector and a 2-layer predictor with its _build_mlp (lines 36-52): bias-free Linears, BN + ReLU
# after each hidden Linear, and a final BN without affine parameters after the last Linear of both
# MLPs (the ResNet predictor, line 109, has none); hidden width 4096 (main_moco.py --moco-mlp-dim,
# line 97), output 256 (--moco-dim, line 95). solo-learn builds the same heads for every backbone
# that is not a ResNet (solo/methods/mocov3.py lines 74-97, _build_mlp lines 101-116).
# Temperature 0.2 (CONFIG.md's ViT commands --moco-t=.2, lines 113, 130, 160; solo-learn
# scripts/pretrain/imagenet-100/mocov3_vit.yaml line 22), loss x 2 temperature (builder.py line
# 73), momentum 0.99 -> 1 on a per-iteration cosine (--moco-m 0.99 and --moco-m-cos, main_moco.py
# lines 99-103 and 431-433; mocov3_vit.yaml lines 23-25): inherited from ../mocov3.py unchanged.
# The optimizer and schedule are the recipes' (configs/recipes/vit/<dataset>/mocov3.py).
# Deviations (ortho_suite's ViT is timm's, models/vit.py): the patch projection is trained, not the
# frozen random one of --stop-grad-conv1 (vits.py lines 49-51); no fixed 2-D sin-cos position
# embedding (vits.py lines 28-29, 53-69: here learned, timm's); timm's init, not MoCo v3's (vits.py
# lines 31-47); ViT-S has timm's 6 heads, not MoCo v3's 12 (vits.py line 117); 4x4 patches at 32 px
# (backbones/vit_tiny.py), the paper's are 16x16 at 224 px.
_base_ = ['../mocov3.py']

model = dict(
    neck=dict(num_layers=3),  # Linear-BN-ReLU-Linear-BN-ReLU-Linear-BN(affine=False), no biases
    head=dict(
        # Linear-BN-ReLU-Linear-BN(affine=False), no biases
        predictor=dict(with_last_bn=True, with_last_bn_affine=False)),
)
