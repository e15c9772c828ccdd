# INTL (two views, no EMA) on ImageNet, the official recipe: winci-ai/INTL scripts/intl_ep800.sh
# (--epochs 800 --lr 0.3 --method intl) with main.py and cfg.py. SGD, lr 0.3 per 256 images,
# weight decay 1e-5 (cfg.py default) on every tensor of 2 or more dimensions (main.py: none on the
# 1-D ones), 2 warm-up epochs, cosine to 0.001 x lr. The script's batch (cfg.py --bs default 256,
# /work/shared/reference/intl_paper.md section 3.1) is set in the profiles' cfg_options. The
# multi-crop EMA runs (intl_ema) change --lr with the epochs (0.5 / 0.4 / 0.3) and have no recipe
# here.
_base_ = ['../_base_/intl_sgd_warmup_cosine.py']

optim_wrapper = dict(
    # mmengine's flat_decay_mult applies to every 1-D parameter (norm weights and biases among
    # them, as neither norm_decay_mult nor bias_decay_mult is set)
    paramwise_cfg=dict(flat_decay_mult=0.0),
    optimizer=dict(weight_decay=1e-5))  # cfg.py --wd default
optim_recipe = dict(source='winci-ai/INTL scripts/intl_ep800.sh, main.py, cfg.py',
                    base_lr=0.3)  # intl_ep800.sh --lr
