# MocoModel of LightlySSL's CIFAR-10 benchmark (lightly-ai/lightly@e8d317fc
# docs/source/getting_started/benchmarks/cifar10_benchmark.py, configure_optimizers l. 346-357): SGD
# lr 6e-2 x batch / 128, momentum 0.9, weight decay 5e-4, cosine over the epochs, on the backbone
# and projection head. The memory bank (NTXentLoss memory_bank_size=4096, l. 311-314) was 8192 for
# the published batch-512 rows (the table's footnote (*), l. 49-50): the profile sets
# model.queue_size=8192.
_base_ = ['../_base_/sgd_cosine.py']

optim_recipe = dict(source='lightly@e8d317fc cifar10_benchmark.py MocoModel (l. 346-357)')
