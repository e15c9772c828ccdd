# DirectCLR on ImageNet, the official recipe (facebookresearch/directclr directclr/main.py and
# directclr/utils.py; paper App. D.3: LARS, lr 4.8 "as in SimCLR", batch 4096, 10 warm-up epochs,
# cosine): LARS of the Barlow Twins code (eta 0.001, biases and norm weights excluded from weight
# decay and from the trust ratio), lr 4.8 not scaled with the batch (main.py's `* batch_size / 256`
# is commented out), weight decay 1e-6; per iteration a linear warm-up from 0 over 10 epochs, then
# cosine to 0.001 x lr at the end of training (utils.py adjust_learning_rate), whose end follows
# --epochs (ortho_suite.train.compose). The same optimizer trains every --mode, so the projector
# ablations of Table 2 use it too. The code's batch (--batch-size 4096, global) is set in the
# profiles' cfg_options.
# Deviation: DirectCLR's warm-up is lr t / W at iteration t < W (W warm-up iterations);
# mmengine's LinearLR cannot start from 0 (its chainable form divides by the start factor), so it
# runs from 1e-12 x lr to lr at iteration W - 1: the rates differ by at most lr / W.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='LARSBarlowTwins',  # ortho_suite/train/optimizers.py
        lr=None,  # = optim_recipe.base_lr, set by ortho_suite.train.compose
        momentum=0.9,  # utils.py LARS default
        weight_decay=1e-6,  # main.py --weight-decay default
        eta=0.001,  # utils.py LARS default
        exclude_bias_n_norm=True))  # weight_decay_filter = lars_adaptation_filter = p.ndim == 1
param_scheduler = [
    dict(type='LinearLR',
         start_factor=None,  # from optim_recipe.warmup_start_lr, set by ortho_suite.train.compose
         by_epoch=True, begin=0, end=10, convert_to_iter_based=True),  # warmup_steps = 10 epochs
    dict(type='CosineAnnealingLR',
         eta_min_ratio=0.001,  # end_lr = base_lr * 0.001
         by_epoch=True, begin=10, end=100, T_max=90, convert_to_iter_based=True),
]
optim_recipe = dict(source='facebookresearch/directclr directclr/main.py, directclr/utils.py',
                    base_lr=4.8,  # main.py --learning-rate default
                    base_batch_size=None,  # not scaled
                    warmup_start_lr=0.0)  # lr = base_lr * step / warmup_steps
