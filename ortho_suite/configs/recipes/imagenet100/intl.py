# INTL on ImageNet-100, the official recipe: winci-ai/INTL scripts/in100.sh (--bs 128 --lr 0.5
# --wd 2.5e-5 --epochs 400) with main.py and cfg.py. SGD, lr 0.5 per 256 images (0.25 at the
# script's batch), weight decay 2.5e-5 on every tensor of 2 or more dimensions (main.py puts the
# 1-D ones, biases and norm weights, in a group without weight decay), 2 warm-up epochs, cosine to
# 0.001 x lr. The script's batch (128 in all) is set in the profiles' cfg_options.
_base_ = ['../_base_/intl_sgd_warmup_cosine.py']

optim_wrapper = dict(
    # mmengine's flat_decay_mult applies to every 1-D parameter (norm weights and biases among
    # them, as neither norm_decay_mult nor bias_decay_mult is set)
    paramwise_cfg=dict(flat_decay_mult=0.0),
    optimizer=dict(weight_decay=2.5e-5))  # in100.sh --wd
optim_recipe = dict(source='winci-ai/INTL scripts/in100.sh, main.py',
                    base_lr=0.5)  # in100.sh --lr
