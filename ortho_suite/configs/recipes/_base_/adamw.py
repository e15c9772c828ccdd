# torch.optim.AdamW at torch's defaults over every parameter (weight decay on biases and norms
# too), as MoCo v3's main_moco.py (facebookresearch/moco-v3 c349e6e, lines 228-230) and solo-learn
# (solo/methods/base.py lines 97-102 and 350-356, no optimizer.kwargs, exclude_bias_n_norm_wd
# False) build it. Each recipe sets its script's weight decay and optim_recipe (and inherits a
# schedule).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW',
        lr=None,  # optim_recipe.base_lr x global batch / 256, set by ortho_suite.train.compose
        betas=(0.9, 0.999),  # torch's default; neither script sets them
        eps=1e-8,  # torch's default
        weight_decay=None),  # the script's, set by each recipe
)
