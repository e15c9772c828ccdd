# MoCo v2+ on CIFAR-10 (recipes/cifar100/ and imagenet100/ inherit it), solo-learn's recipe:
# scripts/pretrain/cifar/mocov2plus.yaml. SGD (momentum 0.9, weight decay on every parameter), lr
# 0.3 per 256 images, weight decay 1e-4, solo-learn's warm-up cosine schedule. The script's batch
# (256 on one GPU, devices: [0]) is set in the profiles' cfg_options; its classifier_lr is
# the online linear probe's (optim_recipe.classifier_lr; ortho_suite/train/online_probe.py).
_base_ = ['../_base_/solo_warmup_cosine.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD',
        lr=None,  # optim_recipe.base_lr x global batch / 256, set by ortho_suite.train.compose
        momentum=0.9,  # solo/args/pretrain.py: default optimizer.kwargs.momentum for sgd
        # mocov2plus.yaml optimizer.weight_decay, on every parameter (exclude_bias_n_norm_wd: False,
        # solo-learn's default, not set by the script)
        weight_decay=1e-4),
)
optim_recipe = dict(classifier_lr=0.3,  # mocov2plus.yaml optimizer.classifier_lr
                    source='solo-learn scripts/pretrain/cifar/mocov2plus.yaml',
                    base_lr=0.3)  # mocov2plus.yaml optimizer.lr
