# W-MSE on CIFAR-10 (recipes/cifar100/ and imagenet100/ inherit it), solo-learn's recipe:
# scripts/pretrain/cifar/wmse.yaml. Adam, lr 2e-3 per 256 images, weight decay 1e-6, solo-learn's
# warm-up cosine schedule from lr 0 (the script's warmup_start_lr). The script's batch (256 on one
# GPU, devices: [0]) is set in the profiles' cfg_options; its classifier_lr is
# the online linear probe's (optim_recipe.classifier_lr; ortho_suite/train/online_probe.py).
_base_ = ['../_base_/solo_warmup_cosine.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='Adam',  # torch.optim.Adam, default betas (the script sets no optimizer kwargs)
        lr=None,  # optim_recipe.base_lr x global batch / 256, set by ortho_suite.train.compose
        weight_decay=1e-6),  # wmse.yaml optimizer.weight_decay (Adam's L2 term, every parameter)
)
optim_recipe = dict(classifier_lr=3e-3,  # wmse.yaml optimizer.classifier_lr
                    source='solo-learn scripts/pretrain/cifar/wmse.yaml',
                    base_lr=2e-3,  # wmse.yaml optimizer.lr
                    warmup_start_lr=0.0)  # wmse.yaml scheduler.warmup_start_lr
