# DCL, decoupled contrastive learning (Yeh et al., ECCV 2022), as LightlySSL's CIFAR-10 benchmark
# trains it (docs/source/getting_started/benchmarks/cifar10_benchmark.py, DCL; lightly/loss/
# dcl_loss.py DCLLoss): SimCLR's projector, InfoNCE without the positive pair in the denominator,
# temperature 0.1, symmetric. Algorithm: ortho_suite/models/lightly_algorithms.py DCL; loss:
# ortho_suite/losses.py dcl_loss. LightlySSL trains it with its SimCLR views (jitter strength 0.5,
# no blur; nearest suite recipe: solo_cifar_symmetric_weak, which blurs) and SGD lr 0.06 x batch /
# 128, momentum 0.9, wd 5e-4, cosine.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/lightly_mlp2_projector.py']

model = dict(
    algorithm='DCL',  # ortho_suite/models/lightly_algorithms.py
    temperature=0.1,  # DCLLoss() default
    neck=dict(hid_channels=512, out_channels=128),  # SimCLRProjectionHead(512, 512, 128)
)
