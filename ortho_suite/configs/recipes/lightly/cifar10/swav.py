# SwaVModel of LightlySSL's CIFAR-10 benchmark (lightly-ai/lightly@e8d317fc
# docs/source/getting_started/benchmarks/cifar10_benchmark.py, configure_optimizers l. 637-644):
# Adam (torch's defaults: betas 0.9 / 0.999, eps 1e-8), lr 1e-3 x batch / 128, weight decay 1e-6
# (torch Adam's L2 form, added to the gradient), cosine over the epochs. Not SGD: the optimizer is
# replaced whole.
_base_ = ['../_base_/sgd_cosine.py']

optim_wrapper = dict(optimizer=dict(_delete_=True, type='Adam', lr=None, weight_decay=1e-6))
optim_recipe = dict(source='lightly@e8d317fc cifar10_benchmark.py SwaVModel (l. 637-644)',
                    base_lr=1e-3)  # lr=1e-3 * lr_factor
