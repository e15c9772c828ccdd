# solo-learn's CIFAR "symmetric_weak" recipe, both views alike (scripts/pretrain/cifar/
# augmentations/symmetric_weak.yaml; solo-learn's MoCo v2+ CIFAR runs):
view = dict(
    size=32, crop_scale=(0.08, 1.0), interpolation='bicubic',
    jitter=0.8, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
    grayscale=0.2, blur=0.5, solarize=0.0, hflip=0.5)
model = dict(data_preprocessor=dict(views=[view, view]))
