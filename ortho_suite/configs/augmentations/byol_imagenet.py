# BYOL's asymmetric ImageNet recipe as used by Barlow Twins and DirectCLR (directclr/utils.py;
# INTL's 2-view ImageNet runs use the same probabilities): both views bicubic random resized crop
# 224 (scale 0.08-1.0) and flip p 0.5 (done per image on CPU by the dataset pipeline, hence
# crop=False), ColorJitter(0.4, 0.4, 0.2, 0.1) p 0.8, grayscale p 0.2; view 1: blur p 1.0,
# solarize 0.0; view 2: blur p 0.1, solarize 0.2; blur sigma U[0.1, 2.0].
view1 = dict(
    size=224, crop=False,
    jitter=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1,
    grayscale=0.2, blur=1.0, blur_sigma=(0.1, 2.0), solarize=0.0)
view2 = dict(view1, blur=0.1, solarize=0.2)
model = dict(data_preprocessor=dict(views=[view1, view2]))
