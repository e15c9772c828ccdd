# DINOModel of LightlySSL's CIFAR-10 benchmark (lightly-ai/lightly@e8d317fc
# docs/source/getting_started/benchmarks/cifar10_benchmark.py, configure_optimizers l. 744-753): SGD
# lr 6e-2 x batch / 128, momentum 0.9, weight decay 5e-4, cosine over the epochs, on the student
# backbone and head.
_base_ = ['../_base_/sgd_cosine.py']

optim_recipe = dict(source='lightly@e8d317fc cifar10_benchmark.py DINOModel (l. 744-753)')
