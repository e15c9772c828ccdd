# solo-learn's CIFAR "symmetric" recipe, both views alike (scripts/pretrain/cifar/augmentations/
# symmetric.yaml; solo-learn's SimCLR CIFAR runs). Each parameter as in that file:
view = dict(
    size=32,                      # crop_size 32
    crop_scale=(0.08, 1.0),       # rrc crop_min_scale 0.08, crop_max_scale 1.0
    interpolation='bicubic',      # solo-learn's RandomResizedCrop uses BICUBIC
    jitter=0.8,                   # color_jitter prob 0.8
    brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2,
    grayscale=0.2,                # grayscale prob 0.2
    blur=0.5,                     # gaussian_blur prob 0.5, sigma U[0.1, 2.0]
    solarize=0.0,                 # solarization prob 0.0
    hflip=0.5)                    # horizontal_flip prob 0.5
model = dict(data_preprocessor=dict(views=[view, view]))
