# solo-learn's `scheduler: warmup_cosine` with its defaults, which none of the scripts used here
# overrides except W-MSE's warmup_start_lr (solo/methods/base.py add_and_assert_specific_cfg:
# warmup_epochs 10, warmup_start_lr 3e-5, min_lr 0.0, interval 'step'; solo/utils/lr_scheduler.py
# LinearWarmupCosineAnnealingLR): per iteration, linear from warmup_start_lr to lr over the first
# 10 epochs (lr reached at their last iteration, as mmengine's LinearLR), then cosine to 0 at the
# end of training. The cosine's end follows --epochs (ortho_suite.train.compose); a run shorter than the
# warm-up ends during it, as in solo-learn.
param_scheduler = [
    dict(type='LinearLR',
         start_factor=None,  # optim_recipe.warmup_start_lr / lr, set by ortho_suite.train.compose
         by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0,  # min_lr
         by_epoch=True, begin=10, end=1000, T_max=990, convert_to_iter_based=True),
]
# What ortho_suite.train.compose derives lr and the warm-up's start factor from, after --cfg-options:
# lr = base_lr x global batch / base_batch_size (solo/args/pretrain.py scales the script's lr by
# batch_size x devices x nodes / 256, i.e. the global batch; an explicit
# optim_wrapper.optimizer.lr in --cfg-options is used as it is).
optim_recipe = dict(
    source=None,  # the script the recipe follows (each recipe file)
    base_lr=None,  # the script's optimizer.lr (each recipe file)
    base_batch_size=256,
    warmup_start_lr=3e-5,  # not scaled with the batch (solo-learn scales it only when
                           # accumulating gradients, which the suite does not)
)
