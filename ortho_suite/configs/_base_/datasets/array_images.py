# Shared by the datasets held in memory as 32x32 uint8 arrays (Fashion-MNIST, CIFAR, generated):
# the loader ships whole images; SSLViewsPreprocessor makes the views on the device.
# Training samples carry no class label: no SSL loss reads it, and a label is one small tensor
# per image, which the loader workers hand over through a shared-memory segment each; that capped
# the loader at ~3k images/s (benchmarks/perf/loader_throughput.py). Evaluation keeps the labels.
pack_train = dict(type='PackSelfSupInputs', algorithm_keys=[], meta_keys=[])
pack = dict(type='PackSelfSupInputs', algorithm_keys=['gt_label'], meta_keys=[])
train_dataloader = dict(
    batch_size=256,  # global: split over the processes of a distributed run (ortho_suite/train/launch.py)
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(data_root='', split='train', pipeline=[pack_train]))
model = dict(data_preprocessor=dict(type='SSLViewsPreprocessor'))
# Frozen-encoder evaluation (ortho_suite/evaluate/): un-augmented images of both splits.
feature_data = dict(train_split='train', test_split='test', pipeline=[pack])
