# INTL with an EMA target (Weng et al., ICLR 2024; official code methods/intl_m.py INTL_M, main.py
# --method intl_m, the ImageNet "multi-crop + EMA" runs): the momentum network embeds the first
# crop, the online network every other crop; each embedding IterNorm-whitened (T = 4, over the
# gathered batch); normalized MSE to the target plus beta times the online outputs' trace loss,
# averaged over the online crops. Algorithm: ortho_suite/models/ema_algorithms.py INTLEMA; loss:
# ortho_suite/losses.py intl_ema_loss. The official runs use the multi-crop views
# (--aug intl_imagenet_multicrop, 2 x 224 + 192/160/128/96) and SGD lr 0.5 (100 epochs) / 0.4
# (200, 400) / 0.3 (800) x batch/256, wd 1e-5, 2 warm-up epochs (no recipe file: the rate
# depends on the epochs); with two views the online network sees view 2 only, as the official
# code with two crops. The EMA schedule is
# the official one (m_k = 1 - (1 - m0)(cos(pi k / K) + 1) / 2 at iteration k, updated before the
# forward).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='INTLEMA',  # ortho_suite/models/ema_algorithms.py
    base_momentum=0.996,  # cfg.py --m (ImageNet)
    end_momentum=1.0,  # main.py adjust_momentum: m -> 1
    iters=4,  # cfg.py --iters
    beta=None,  # 0.01 (log2(global batch) - 3): methods/base.py cal_trade_off (axis 0)
    # src/model.py get_projection, projection_layers 3: Linear(no bias) - BN - ReLU, twice, then
    # Linear with bias; cfg.py projection_size 8192, emb 8192 (ImageNet)
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,  # set from the backbone by ortho_suite.train.compose
        hid_channels=8192,
        out_channels=8192,
        num_layers=3,
        with_bias=False,
        with_last_bn=False,
        with_last_bias=True,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
)
