# ResNet-50 with the CIFAR stem (3x3 conv, stride 1, no max-pool): the backbone of the OR paper's
# CIFAR ResNet-50 rows (Tables 2 and 10, solo-learn's resnet50 with its CIFAR stem). As
# resnet18_cifar.py with bottleneck blocks: the representation has 32 * width dims (2048 at the
# papers' width 64).
_base_ = ['./resnet18_cifar.py']
model = dict(backbone=dict(depth=50))
