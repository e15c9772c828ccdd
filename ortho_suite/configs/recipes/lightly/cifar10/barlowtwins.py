# BarlowTwinsModel of LightlySSL's CIFAR-10 benchmark (lightly-ai/lightly@e8d317fc
# docs/source/getting_started/benchmarks/cifar10_benchmark.py, configure_optimizers l. 486-491): SGD
# lr 6e-2 x batch / 128, momentum 0.9, weight decay 5e-4, cosine over the epochs (all parameters).
_base_ = ['../_base_/sgd_cosine.py']

optim_recipe = dict(source='lightly@e8d317fc cifar10_benchmark.py BarlowTwinsModel (l. 486-491)')
