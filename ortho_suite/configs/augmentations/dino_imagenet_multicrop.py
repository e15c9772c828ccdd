# DINO's multi-crop (Caron et al., ICCV 2021) for 224 px data (ImageNet folders): the crops and
# flips per image on CPU (images differ in size), the colour operations batched on the device.
# Used with --method dino only (model.local_crops selects DINO's multi-crop path, see
# configs/methods/dino.py); ortho_suite.train.compose expands the third crop and the third recipe
# into model.local_crops local crops (MultiView num_views [1, 1, local_crops]).
# Source: facebookresearch/dino main_dino.py, the ViT defaults: global_crops_scale (0.4, 1),
# local_crops_scale (0.05, 0.4), local_crops_number 8 (lines 108-117); DataAugmentationDINO
# (lines 419-464): 2 global crops of 224 px and local crops of 96 px, bicubic, flip p 0.5,
# ColorJitter(0.4, 0.4, 0.2, 0.1) p 0.8, grayscale p 0.2; global crop 1 blur p 1.0, global crop 2
# blur p 0.1 + solarize p 0.2, local crops blur p 0.5 (utils.py GaussianBlur: radius U[0.1, 2]).
# The official ResNet-50 run (README.md, "ResNet-50 and other convnets trainings") uses
# --global_crops_scale 0.14 1 --local_crops_scale 0.05 0.14: change `global_scale`/`local_scale`
# below for it (the CPU crops are not --cfg-options friendly).
global_scale, local_scale = (0.4, 1.0), (0.05, 0.4)


def _crop(size, scale):
    return [dict(type='RandomResizedCrop', size=size, scale=scale, interpolation='bicubic',
                 backend='pillow'),
            dict(type='RandomFlip', prob=0.5)]


train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadRGBImage'),
        dict(type='MultiView', num_views=[1, 1, 8], transforms=[
            _crop(224, global_scale), _crop(224, global_scale), _crop(96, local_scale)]),
        dict(type='PackSelfSupInputs', algorithm_keys=[], meta_keys=[]),  # no labels: see
        # configs/_base_/datasets/imagenet_folder.py
    ]))
global1 = dict(
    size=224, crop=False,
    jitter=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, grayscale=0.2,
    blur=1.0, blur_sigma=(0.1, 2.0), solarize=0.0)
global2 = dict(global1, blur=0.1, solarize=0.2)
local = dict(global1, size=96, blur=0.5)
model = dict(local_crops=8, data_preprocessor=dict(views=[global1, global2, local]))
