# MoCo v3 on a ViT backbone on CIFAR-100: as on CIFAR-10 (../cifar10/mocov3.py, the paper's ViT
# recipe; solo-learn trains CIFAR-100 with its CIFAR-10 scripts).
_base_ = ['../cifar10/mocov3.py']
