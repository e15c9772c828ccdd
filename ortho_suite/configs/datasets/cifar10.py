# CIFAR-10 (ortho_suite/datasets/cifar.py): python-version archive or batch files, MD5-verified,
# train split (50,000 images); --data-root is the folder with the archive or its extracted folder.
_base_ = ['../_base_/datasets/array_images.py']
train_dataloader = dict(dataset=dict(type='CIFAR10Python'))
model = dict(
    data_preprocessor=dict(
        # solo-learn's MEANS_N_STD (solo/data/pretrain_dataloader.py)
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616)))
