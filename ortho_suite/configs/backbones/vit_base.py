# ViT-base at CIFAR resolution (OR paper Table 3): as vit_tiny.py with timm's ViT-B widths
# (solo-learn's vit_base: embed 768, depth 12, 12 heads); a 768-d representation.
_base_ = ['./vit_tiny.py']
model = dict(backbone=dict(embed_dim=768, num_heads=12))
