# DCLW, weighted decoupled contrastive learning (Yeh et al., ECCV 2022): DCL (methods/dcl.py) with
# the von Mises-Fisher weighting of the positive pair, sigma 0.5, as LightlySSL's DCLWLoss
# (lightly/loss/dcl_loss.py) in its CIFAR-10 benchmark. Algorithm: ortho_suite/models/
# lightly_algorithms.py DCLW; loss: ortho_suite/losses.py dclw_loss.
_base_ = ['dcl.py']

model = dict(
    algorithm='DCLW',  # ortho_suite/models/lightly_algorithms.py
    sigma=0.5,  # DCLWLoss() default
)
