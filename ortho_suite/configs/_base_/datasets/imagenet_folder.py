# Shared by ImageNet-1k and ImageNet-100 (train/<wnid>/ folder trees, ortho_suite/datasets/
# imagenet.py). Images differ in size, so each view is cropped per image on CPU (bicubic random
# resized crop to 224 and flip, as in solo-learn / Barlow Twins); colour operations run batched
# on the device (the recipe's views say crop=False).
crop_view = [
    dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0), interpolation='bicubic',
         backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
# Training samples carry no class label (no SSL loss reads it; per-image label tensors slow the
# loader, see array_images.py); evaluation keeps the labels.
pack_train = dict(type='PackSelfSupInputs', algorithm_keys=[], meta_keys=[])
pack = dict(type='PackSelfSupInputs', algorithm_keys=['gt_label'], meta_keys=[])
train_dataloader = dict(
    batch_size=256,  # global: split over the processes of a distributed run (ortho_suite/train/launch.py)
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ImageNetFolder',
        data_root='',  # --data-root: the folder holding train/ and val/
        split='train',
        pipeline=[
            dict(type='LoadRGBImage'),
            dict(type='MultiView', num_views=2, transforms=[crop_view]),
            pack_train,
        ]))
model = dict(
    data_preprocessor=dict(
        type='SSLViewsPreprocessor',
        mean=(0.485, 0.456, 0.406),  # the ImageNet statistics every source uses
        std=(0.229, 0.224, 0.225)))
# Frozen-encoder evaluation: short side resized to 256, central 224 crop (the standard view).
feature_data = dict(
    train_split='train',
    test_split='val',
    pipeline=[
        dict(type='LoadRGBImage'),
        dict(type='mmcls.ResizeEdge', scale=256, edge='short', backend='pillow',
             interpolation='bicubic'),
        dict(type='CenterCrop', crop_size=224),
        pack,
    ])
