# SGD with momentum and a cosine learning-rate decay over the whole run: the suite's default for
# pipeline checks (lr and weight decay are not taken from a paper); the paper tables set the
# methods' own optimizers.
# The last scheduler always ends with training: ortho_suite.train.compose stretches it to --epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=10, by_epoch=True, begin=0, end=10, eta_min=0.0),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10)
