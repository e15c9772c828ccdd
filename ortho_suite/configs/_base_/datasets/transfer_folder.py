# Shared by the transfer datasets of OR Table 6 (ortho_suite/datasets/transfer.py): image files
# of varying size read by path, so pretraining on them crops per image as ImageNet does.
_base_ = ['./imagenet_folder.py']
# Frozen-feature view of the transfer linear evaluation (Kornblith et al. 2019, as SimCLR App. B.8
# describes it): shorter side resized to 224 with bicubic resampling, central 224 crop, no
# augmentation. val_split: the official validation split the L2 strength is chosen on; None
# where the dataset has none (ortho_suite/evaluate/transfer.py then holds out part of train).
feature_data = dict(
    train_split='train',
    val_split=None,
    test_split='test',
    pipeline=[
        dict(type='LoadRGBImage'),
        dict(type='mmcls.ResizeEdge', scale=224, edge='short', backend='pillow',
             interpolation='bicubic'),
        dict(type='CenterCrop', crop_size=224),
        {{_base_.pack}},
    ])
