# Generated in-memory images (ortho_suite/datasets/synthetic.py): tests and pipeline checks only,
# no download, nothing comparable to a published number. Views are made on the device by
# SSLViewsPreprocessor from the recipe chosen with --aug.
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
        pipeline=[dict(type='PackSelfSupInputs', algorithm_keys=['gt_label'], meta_keys=[])]))
model = dict(
    data_preprocessor=dict(
        type='SSLViewsPreprocessor',
        # pixel values of the generated images are roughly uniform on [0, 1]
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25)))
# Frozen-encoder evaluation (ortho_suite/evaluate.py): un-augmented images of both splits.
feature_data = dict(
    train_split='train',
    test_split='test',
    pipeline=[dict(type='PackSelfSupInputs', algorithm_keys=['gt_label'], meta_keys=[])])
