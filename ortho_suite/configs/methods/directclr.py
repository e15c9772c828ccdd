# DirectCLR (Jing et al., ICLR 2022; directclr/main.py --mode directclr): no projector; InfoNCE
# (temperature 0.1, cross-view negatives, symmetric) on the first d0 = 360 coordinates of the
# representation (the paper's ResNet-50 value; d0 must not exceed the representation's width).
# Loss: ortho_suite/losses.py directclr_loss. The code's online linear head is not included.
# Table 2's projector ablations add a neck of ortho_suite/models/projectors.py and take the InfoNCE
# on its whole output: --cfg-options model.dim=None model.neck.type=FixedLowRankProjector
# model.neck.rank=360 (the neck's input width is set from the backbone by ortho_suite.train.compose).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine.py',
         '../_base_/models/encoder_regularized.py']

model = dict(
    algorithm='DirectCLR',  # ortho_suite/models/algorithms.py
    dim=360,
    temperature=0.1,
)
