# Generated in-memory images (ortho_suite/datasets/synthetic.py): tests and pipeline checks only,
# no download, nothing comparable to a published number.
# Two views per image, each an independent random resized crop and horizontal flip. The papers'
# full augmentation recipes are defined per dataset with the real datasets.
view_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.2, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackSelfSupInputs', algorithm_keys=['gt_label'], meta_keys=[]),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='SyntheticImages',
        num_samples=256,
        num_classes=10,
        image_size=32,
        seed=0,
        pipeline=train_pipeline))
model = dict(
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        # Centres the generated pixel values (uniform-ish on [0, 255]) to roughly unit scale.
        mean=(127.5, 127.5, 127.5),
        std=(64.0, 64.0, 64.0),
        bgr_to_rgb=False))
