# DINO on CIFAR-10 (recipes/cifar100/ and imagenet100/ inherit it), solo-learn's recipe:
# scripts/pretrain/cifar/dino.yaml. LARS (eta 0.02, trust ratio clipped to the lr, biases and norm
# weights excluded), lr 0.3 per 256 images, weight decay 1e-6, solo-learn's warm-up cosine schedule.
# The script's batch (256 on one GPU, devices: [0]) is set in the profiles' cfg_options; its classifier_lr is
# the online linear probe's (optim_recipe.classifier_lr; ortho_suite/train/online_probe.py).
_base_ = ['../_base_/solo_lars.py']

optim_wrapper = dict(optimizer=dict(weight_decay=1e-6))  # dino.yaml optimizer.weight_decay
optim_recipe = dict(classifier_lr=0.1,  # dino.yaml optimizer.classifier_lr
                    source='solo-learn scripts/pretrain/cifar/dino.yaml',
                    base_lr=0.3)  # dino.yaml optimizer.lr
