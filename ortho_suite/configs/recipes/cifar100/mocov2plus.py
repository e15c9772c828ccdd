# MoCo v2+ on CIFAR-100: solo-learn trains CIFAR-100 with its CIFAR-10 script
# (scripts/pretrain/cifar/mocov2plus.yaml: `dataset: cifar10 # change here for cifar100`).
_base_ = ['../cifar10/mocov2plus.py']
