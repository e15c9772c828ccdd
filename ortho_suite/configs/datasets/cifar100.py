# CIFAR100 (ortho_suite/datasets/cifar.py), python-version archive or batch files, MD5-verified,
# train split (50,000 images). Views are made on the device by SSLViewsPreprocessor.
train_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CIFAR100Python',
        data_root='',  # --data-root: folder with the archive or its extracted folder
        split='train',
        pipeline=[dict(type='PackSelfSupInputs', algorithm_keys=['gt_label'], meta_keys=[])]))
model = dict(
    data_preprocessor=dict(
        type='SSLViewsPreprocessor',
        # solo-learn's MEANS_N_STD (solo/data/pretrain_dataloader.py)
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762)))
# Frozen-encoder evaluation (ortho_suite/evaluate.py): un-augmented images of both splits.
feature_data = dict(
    train_split='train',
    test_split='test',
    pipeline=[dict(type='PackSelfSupInputs', algorithm_keys=['gt_label'], meta_keys=[])])
