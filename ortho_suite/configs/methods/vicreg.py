# VICReg (Bardes, Ponce, LeCun, ICLR 2022): invariance / variance / covariance weights 25 / 25 / 1
# (official main_vicreg.py); expander width 2048 as solo-learn's CIFAR vicreg.yaml (proj 2048 ->
# 2048), with the official Projector's 3-layer layout. Loss: ortho_suite/losses.py vicreg_loss.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/mlp3_projector.py']  # brings encoder_regularized.py

model = dict(
    algorithm='VICReg',  # ortho_suite/models/algorithms.py
    sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0,
)
