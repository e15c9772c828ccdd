# Fashion-MNIST (ortho_suite/datasets/fmnist.py): 60,000 train images, fed as 32x32 RGB
# (2-pixel zero padding, gray replicated). Views are made on the device by SSLViewsPreprocessor.
train_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='FashionMNIST',
        data_root='',  # '' = /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist)
        split='train',
        pipeline=[dict(type='PackSelfSupInputs', algorithm_keys=['gt_label'], meta_keys=[])]))
model = dict(
    data_preprocessor=dict(
        type='SSLViewsPreprocessor',
        # measured by ortho-suite on the 60,000 padded 32x32 training images (the unpadded
        # 28x28 images give the usual 0.2860 / 0.3530)
        mean=(0.2190, 0.2190, 0.2190),
        std=(0.3318, 0.3318, 0.3318)))
# Frozen-encoder evaluation (ortho_suite/evaluate.py): un-augmented images of both splits.
feature_data = dict(
    train_split='train',
    test_split='test',
    pipeline=[dict(type='PackSelfSupInputs', algorithm_keys=['gt_label'], meta_keys=[])])
