# ResNet-50 with the ImageNet stem (7x7 stride-2 conv, max-pool): the backbone of DirectCLR's and
# INTL's ImageNet-1k tables and of the OR paper's Tables 5-7. As resnet18.py with bottleneck
# blocks: the representation has 32 * width dims (2048 at the papers' width 64).
_base_ = ['./resnet18.py']
model = dict(backbone=dict(depth=50))
