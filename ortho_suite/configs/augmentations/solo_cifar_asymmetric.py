# solo-learn's CIFAR "asymmetric" recipe (scripts/pretrain/cifar/augmentations/asymmetric.yaml):
# BYOL's asymmetry on CIFAR, used by the OR paper's solo-learn runs of BYOL, NNBYOL, DINO, MoCo v3.
# Views differ only in solarization (0.0 / 0.2); no blur on CIFAR.
view1 = dict(
    size=32, crop_scale=(0.08, 1.0), interpolation='bicubic',
    jitter=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1,
    grayscale=0.2, blur=0.0, solarize=0.0, hflip=0.5)
view2 = dict(view1, solarize=0.2)
model = dict(data_preprocessor=dict(views=[view1, view2]))
