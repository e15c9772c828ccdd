# Generated in-memory images (ortho_suite/datasets/synthetic.py): tests and pipeline checks only,
# no download, nothing comparable to a published number.
_base_ = ['../_base_/datasets/array_images.py']
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type='SyntheticImages', num_samples=256, num_classes=10, image_size=32, seed=0))
model = dict(
    data_preprocessor=dict(
        # a fixed choice that brings the generated pixels (spread over [0, 1]) to about unit
        # scale; not measured, the data are for tests only
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25)))
