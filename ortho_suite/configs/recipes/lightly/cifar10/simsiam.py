# SimSiamModel of LightlySSL's CIFAR-10 benchmark (lightly-ai/lightly@e8d317fc
# docs/source/getting_started/benchmarks/cifar10_benchmark.py, configure_optimizers l. 425-433): SGD
# momentum 0.9, weight decay 5e-4, cosine over the epochs, lr 6e-2 NOT scaled with the batch (l.
# 428: "no lr-scaling, results in better training stability"), one rate for every parameter,
# predictor included (no fixed predictor rate, unlike solo-learn's recipe: no SimSiamHook here).
_base_ = ['../_base_/sgd_cosine.py']

optim_recipe = dict(source='lightly@e8d317fc cifar10_benchmark.py SimSiamModel (l. 425-433)',
                    base_batch_size=None)  # lr=6e-2, no lr_factor
