# BYOL on ImageNet, solo-learn's recipe: scripts/pretrain/imagenet/byol.yaml (the OR paper says it
# keeps solo-learn's original training settings; its Table 5 uses this method at batch 128). LARS
# (eta 0.001, trust ratio not clipped, biases and norm weights excluded), lr 0.45 per 256 images,
# weight decay 1e-6, solo-learn's warm-up cosine schedule. The script trains on two GPUs with 64
# images each and accumulates 16 batches per step (accumulate_grad_batches: 16), i.e. 2048 images
# per step at lr 0.45 x 2048 / 256 = 3.6 (solo-learn multiplies lr, warmup_start_lr and min_lr by
# the accumulation); the suite does not accumulate gradients, so a run gets lr 0.45 x its global
# batch / 256 (the batch is set in the profiles' cfg_options) and warmup_start_lr 3e-5. Its
# classifier_lr is the online linear probe's (optim_recipe.classifier_lr; ortho_suite/train/online_probe.py).
_base_ = ['../_base_/solo_lars.py']

optim_wrapper = dict(optimizer=dict(
    weight_decay=1e-6,  # byol.yaml optimizer.weight_decay
    eta=0.001,  # byol.yaml optimizer.kwargs.eta
    clip_lr=False),  # byol.yaml optimizer.kwargs.clip_lr
)
optim_recipe = dict(classifier_lr=0.2,  # byol.yaml optimizer.classifier_lr
                    source='solo-learn scripts/pretrain/imagenet/byol.yaml',
                    base_lr=0.45)  # byol.yaml optimizer.lr
