# INTL's CIFAR recipe (official INTL code, cifar/ transforms after solo-learn's CifarTransform;
# see shared reference intl_paper.md): bicubic random resized crop 32 with scale 0.08-1.0,
# ColorJitter(0.4, 0.4, 0.2, 0.1) p 0.8, grayscale p 0.2, flip p 0.5, no blur, solarization
# 0.0 / 0.2 on the two crops: the same parameters as solo-learn's asymmetric CIFAR recipe.
_base_ = ['solo_cifar_asymmetric.py']
