# SimSiam on CIFAR-10 (recipes/cifar100/ and imagenet100/ inherit it), solo-learn's recipe:
# scripts/pretrain/cifar/simsiam.yaml. SGD (momentum 0.9, weight decay on every parameter), lr 0.5
# per 256 images, weight decay 1e-5, solo-learn's warm-up cosine schedule. The script's batch (256
# on one GPU, devices: [0]) is set in the profiles' cfg_options; its classifier_lr is
# the online linear probe's (optim_recipe.classifier_lr; ortho_suite/train/online_probe.py).
_base_ = ['../_base_/solo_warmup_cosine.py']

optim_wrapper = dict(
    type='OptimWrapper',
    # solo/methods/simsiam.py gives the predictor a parameter group with `static_lr`: its lr stays
    # at the (scaled) base lr while the schedule moves the others (solo/methods/base.py
    # static_lr). Here the group is marked fix_lr and mmselfsup's SimSiamHook (custom_hooks)
    # resets it to lr before every iteration.
    paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}),
    optimizer=dict(
        type='SGD',
        lr=None,  # optim_recipe.base_lr x global batch / 256, set by ortho_suite.train.compose
        momentum=0.9,  # solo/args/pretrain.py: default optimizer.kwargs.momentum for sgd
        # simsiam.yaml optimizer.weight_decay, on every parameter (exclude_bias_n_norm_wd: False,
        # solo-learn's default, not set by the script)
        weight_decay=1e-5),
)
custom_hooks = [  # added to the runtime's hooks by ortho_suite.train.compose
    dict(type='SimSiamHook', fix_pred_lr=True,
         lr=None,  # = optim_wrapper.optimizer.lr, set by ortho_suite.train.compose
         adjust_by_epoch=False),
]
optim_recipe = dict(classifier_lr=0.1,  # simsiam.yaml optimizer.classifier_lr
                    source='solo-learn scripts/pretrain/cifar/simsiam.yaml',
                    base_lr=0.5)  # simsiam.yaml optimizer.lr
