# W-MSE (Ermolov, Siarohin, Sangineto, Sebe, ICML 2021) as solo-learn trains it on CIFAR
# (scripts/pretrain/cifar/wmse.yaml, solo/methods/wmse.py, solo/utils/whitening.py): each view's
# projection, in random slices of w_size samples of the process's batch, is Cholesky-whitened;
# normalized MSE of the whitened views. Algorithm: ortho_suite/models/algorithms.py WMSE; loss:
# ortho_suite/losses.py wmse_loss. Deviations from the official code (htdt/self-supervised),
# kept from solo-learn: views go through the projector one at a time (the official code batches
# both views through it), and view 2's whitened output is detached (detach_second). solo-learn
# pairs it with its own views (rrc scale 0.2-1.0, jitter (.8, .8, .8, .2) p .8, gray .2, no blur,
# no solarization: no --aug recipe of the suite matches) and Adam lr 2e-3, wd 1e-6
# (configs/recipes/).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/solo_mlp2_projector.py']

model = dict(
    algorithm='WMSE',  # ortho_suite/models/algorithms.py
    w_size=128,  # wmse.yaml whitening_size (must divide the per-process batch)
    w_iter=1,  # solo-learn's default whitening_iters (wmse.yaml does not set it)
    eps=0.0,  # solo-learn's default whitening_eps (wmse.yaml does not set it)
    detach_second=True,  # solo-learn's wmse_loss_func: cosine_similarity(z1, z2.detach())
    # solo-learn's projector (_base_/models/solo_mlp2_projector.py)
    neck=dict(
        hid_channels=1024,  # wmse.yaml proj_hidden_dim
        out_channels=64,  # wmse.yaml proj_output_dim
    ),
)
