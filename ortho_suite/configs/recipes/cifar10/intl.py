# INTL on CIFAR-10 (recipes/cifar100/ inherits it), the official recipe: winci-ai/INTL
# scripts/cifar10.sh (--lr 0.3 --wd 1e-4 --epochs 1000) with cifar/main.py and cifar/cfg.py.
# SGD, lr 0.3 per 256 images, weight decay 1e-4 on every parameter, 2 warm-up epochs, cosine to
# 0.001 x lr. The script's batch (cfg.py --bs default 256) is set in the profiles' cfg_options.
_base_ = ['../_base_/intl_sgd_warmup_cosine.py']

optim_wrapper = dict(
    optimizer=dict(weight_decay=1e-4))  # cifar10.sh --wd; cifar/main.py decays every parameter
optim_recipe = dict(source='winci-ai/INTL scripts/cifar10.sh, cifar/main.py',
                    base_lr=0.3)  # cifar10.sh --lr
