# INTL's ImageNet multi-crop recipe (official INTL code, main.py --multi-crop, SwAV-style crop
# parameters; see shared reference intl_paper.md): 2 crops of 224 px (scale 0.2-1.0) and one each
# of 192 (0.171-0.857), 160 (0.143-0.714), 128 (0.114-0.571) and 96 (0.086-0.429), bicubic, flip
# p 0.5 (per image on CPU); every crop: ColorJitter(0.4, 0.4, 0.2, 0.1) p 0.8, grayscale p 0.2,
# blur p 0.5 (sigma U[0.1, 2.0]), solarize p 0.1.
crops = [(224, 0.2, 1.0), (224, 0.2, 1.0), (192, 0.171, 0.857), (160, 0.143, 0.714),
         (128, 0.114, 0.571), (96, 0.086, 0.429)]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadRGBImage'),
        dict(type='MultiView', num_views=[1] * len(crops), transforms=[
            [dict(type='RandomResizedCrop', size=size, scale=(low, high),
                  interpolation='bicubic', backend='pillow'),
             dict(type='RandomFlip', prob=0.5)]
            for size, low, high in crops]),
        dict(type='PackSelfSupInputs', algorithm_keys=[], meta_keys=[]),  # no labels: see
        # configs/_base_/datasets/imagenet_folder.py
    ]))
model = dict(data_preprocessor=dict(views=[
    dict(size=size, crop=False, jitter=0.8, brightness=0.4, contrast=0.4, saturation=0.2,
         hue=0.1, grayscale=0.2, blur=0.5, blur_sigma=(0.1, 2.0), solarize=0.1)
    for size, _, _ in crops]))
