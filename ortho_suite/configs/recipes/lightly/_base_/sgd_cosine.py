# LightlySSL's CIFAR-10 benchmark protocol (lightly-ai/lightly at e8d317fc,
# docs/source/getting_started/benchmarks/cifar10_benchmark.py, "the script" below; the table it
# produced: docs/source/getting_started/benchmarks.rst, CIFAR-10). Every method's
# configure_optimizers there is SGD, momentum 0.9, weight decay 5e-4 (e.g. SimCLRModel, l. 385-386)
# with lr 6e-2 x lr_factor, lr_factor = batch_size / 128 (l. 126: linear scaling from a batch of
# 128, not 256), and torch's CosineAnnealingLR(optim, max_epochs) (l. 388): no warm-up, stepped
# once per epoch (Lightning's default interval), from lr to 0 at the last epoch. Each method's
# recipe (configs/recipes/lightly/cifar10/<method>.py) names its lines and what differs.
# The schedule's end follows --epochs (ortho_suite.train.compose): 200 (l. 103) or 800.
# These optimizer values, lr_factor and the memory-bank sizes are the same at 42a6a924, the commit
# the script's results table names ("Updated: 27.03.2023"; checked line by line).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD',
        lr=None,  # optim_recipe.base_lr x global batch / 128, set by ortho_suite.train.compose
        momentum=0.9,
        weight_decay=5e-4))
param_scheduler = [
    # by epoch, not converted to iterations: torch's scheduler is stepped after each epoch
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0, end=200, T_max=200),
]
optim_recipe = dict(
    source=None,  # each recipe: the script's model class and lines
    base_lr=6e-2,  # lr=6e-2 * lr_factor
    base_batch_size=128,  # lr_factor = batch_size / 128 (l. 126)
    warmup_start_lr=0.0,  # no warm-up (unused: the first scheduler is not a LinearLR)
    # The script has no online linear classifier; the suite's (ortho_suite/train/online_probe.py)
    # keeps its default rate (0.1, not scaled) and is not what LightlySSL reports.
    classifier_lr=None)
# LightlySSL's k-NN monitor (lightly/utils/benchmarking/benchmark_module.py, BenchmarkModule): after
# every epoch it embeds ALL 50,000 training images and ALL 10,000 test images with the test
# transform (the script's test_transforms, l. 217-230), L2-normalized backbone features, weighted
# k-NN with knn_k = 200, knn_t = 0.1 (l. 105-106), and keeps max_accuracy, the best epoch's top-1,
# which is the number the table reports ("the max accuracy over all epochs the model reached",
# benchmarks.rst). This replaces the runtime's 5,000 / 1,000-image monitor (ortho_suite.train.
# compose: a recipe hook replaces the runtime's hook of its type); summary.json's monitor_knn
# records the last and the best epoch (OnlineMonitorHook.summarize).
custom_hooks = [
    dict(type='OnlineMonitorHook', interval=1, train_samples=None, test_samples=None, k=200,
         temperature=0.1),
]
