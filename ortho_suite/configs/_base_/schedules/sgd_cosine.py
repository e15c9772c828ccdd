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
# mmengine's epoch loop; in-memory image datasets are served from the training device
# (ortho_suite/train/loops.py; train_cfg.device_data=False keeps the DataLoader and its workers).
train_cfg = dict(type='DeviceDataEpochTrainLoop', max_epochs=10, device_data=True)
