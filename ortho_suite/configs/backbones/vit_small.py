# ViT-small at CIFAR resolution (OR paper Table 3): as vit_tiny.py with timm's ViT-S widths
# (solo-learn's vit_small: embed 384, depth 12, 6 heads); a 384-d representation.
_base_ = ['./vit_tiny.py']
model = dict(backbone=dict(embed_dim=384, num_heads=6))
