# solo-learn's LARS (LARSSolo, ortho_suite/train/optimizers.py) as its CIFAR and ImageNet-100
# scripts set it (optimizer.kwargs eta 0.02, clip_lr True, exclude_bias_n_norm True in every such
# script the recipes here follow; each recipe's header names its script), with the warm-up cosine
# schedule. Each recipe sets its script's weight decay and optim_recipe.base_lr; the ImageNet
# script's eta and clip_lr differ and its recipe overrides them.
_base_ = ['./solo_warmup_cosine.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='LARSSolo',
        lr=None,  # optim_recipe.base_lr x global batch / 256, set by ortho_suite.train.compose
        momentum=0.9,  # solo/args/pretrain.py: default optimizer.kwargs.momentum for lars
        weight_decay=None,  # <script>.yaml optimizer.weight_decay, set by each recipe
        eta=0.02,  # <script>.yaml optimizer.kwargs.eta
        clip_lr=True,  # <script>.yaml optimizer.kwargs.clip_lr
        exclude_bias_n_norm=True),  # <script>.yaml optimizer.kwargs.exclude_bias_n_norm
)
