# ImageNet-1k from its train/<wnid>/ and val/<wnid>/ class-folder tree.
_base_ = ['../_base_/datasets/imagenet_folder.py']
train_dataloader = dict(dataset=dict(subset=None))
