# INTL's official optimizer and schedule (winci-ai/INTL cifar/main.py for CIFAR, main.py for
# ImageNet-100 and ImageNet): SGD with momentum 0.9; lr = --lr x global batch (--bs) / 256
# (cfg.base_lr); per iteration a linear warm-up over --warmup_eps 2 epochs (cfg.py default), then
# cosine from lr to 0.001 x lr at the end of training (adjust_learning_rate), whose end follows
# --epochs (ortho_suite.train.compose). Each recipe sets --lr and the weight decay.
# Deviation: INTL's warm-up is lr (t + 1) / W at iteration t < W (W warm-up iterations) and its
# cosine phase is shifted by the same one iteration; mmengine's LinearLR cannot start from 0 (its
# chainable form divides by the start factor), so here the warm-up runs from 1e-12 x lr to lr at
# iteration W - 1: the rates differ by at most lr / W.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD',
        lr=None,  # optim_recipe.base_lr x global batch / 256, set by ortho_suite.train.compose
        momentum=0.9,  # torch.optim.SGD(..., momentum=0.9) in both main.py files
        weight_decay=None))  # each recipe
param_scheduler = [
    dict(type='LinearLR',
         start_factor=None,  # from optim_recipe.warmup_start_lr, set by ortho_suite.train.compose
         by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR',
         eta_min_ratio=0.001,  # end_lr = cfg.base_lr * 0.001
         by_epoch=True, begin=2, end=1000, T_max=998, convert_to_iter_based=True),
]
optim_recipe = dict(
    source=None,  # each recipe
    base_lr=None,  # each recipe: the script's --lr
    base_batch_size=256,  # cfg.base_lr = cfg.lr * cfg.bs / 256, bs the global batch
    warmup_start_lr=0.0)  # see the deviation above
