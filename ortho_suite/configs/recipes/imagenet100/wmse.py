# W-MSE on ImageNet-100, solo-learn's recipe: scripts/pretrain/imagenet-100/wmse.yaml. Its
# optimizer, lr per 256 images, weight decay and schedule equal the CIFAR script's, so the CIFAR-10
# recipe is inherited; only the source differs. The script's batch (128 per GPU on two GPUs,
# devices: [0, 1], i.e. 256 in all) is set in the profiles' cfg_options.
_base_ = ['../cifar10/wmse.py']

optim_recipe = dict(source='solo-learn scripts/pretrain/imagenet-100/wmse.yaml')
