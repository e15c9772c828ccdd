# ImageNet-100: CMC's 100 classes (ortho_suite/datasets/data/imagenet100_cmc.txt) read from an
# ImageNet class-folder tree.
_base_ = ['../_base_/datasets/imagenet_folder.py']
train_dataloader = dict(dataset=dict(subset='imagenet100'))
