# ViT-tiny at CIFAR resolution: a backbone of the OR paper's Table 3 (DINO in solo-learn on
# CIFAR-100). solo-learn builds it with timm (solo/backbones/vit/vit.py: embed 192, depth 12,
# 3 heads, MLP ratio 4, qkv bias, no head); the representation is the CLS token after the final
# LayerNorm (embed_dim dims). ortho_suite/models/vit.py rebuilds that network.
# img_size 32 / patch_size 4 (64 patches): solo-learn's CIFAR ViT recipe
# (scripts/pretrain/cifar/mae.yaml, backbone.kwargs); the OR paper does not state the patch size.
# vit_small.py and vit_base.py inherit this file. CPU tests shrink embed_dim / depth / num_heads.
model = dict(
    backbone=dict(
        type='VisionTransformerCLS',
        embed_dim=192,
        depth=12,
        num_heads=3,
        mlp_ratio=4.0,
        img_size=32,
        patch_size=4,
        in_channels=3,
        out_indices=[-1]))  # the last block's CLS token, after the final norm
