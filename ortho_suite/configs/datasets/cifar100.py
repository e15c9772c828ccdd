# CIFAR-100 (ortho_suite/datasets/cifar.py): python-version archive or files, MD5-verified,
# train split (50,000 images, 100 fine classes); --data-root as for CIFAR-10.
_base_ = ['../_base_/datasets/array_images.py']
train_dataloader = dict(dataset=dict(type='CIFAR100Python'))
model = dict(
    data_preprocessor=dict(
        # solo-learn's MEANS_N_STD (solo/data/pretrain_dataloader.py)
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762)))
