# Runtime shared by every pretraining run (mmengine Runner settings).
default_scope = 'mmselfsup'
# Importing these registers ortho-suite's modules into mmselfsup's registries, so a dumped
# config can be rebuilt by any mmengine tool.
custom_imports = dict(
    imports=['ortho_suite.models', 'ortho_suite.datasets', 'ortho_suite.train'],
    allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='DeferredRuntimeInfoHook'),  # reads log values only when it logs
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Every epoch; two are kept because mmengine deletes the older one *before* writing the
    # newer: a crash during the write still leaves one complete checkpoint to resume from.
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# Records the loss of every iteration for the run summary (and stops a diverged run), keeps the
# random states in checkpoints for exact resumption, and monitors k-NN accuracy and the
# effective rank of the representation every `interval` epochs (ortho_suite/train/hooks.py).
custom_hooks = [
    dict(type='TrainingRecordHook'),
    dict(type='OnlineMonitorHook', interval=1, train_samples=5000, test_samples=1000),
    dict(type='OnlineLinearProbeHook'),  # reads online_probe below
    dict(type='RandomStateHook'),
    # training curves (loss terms, lr, online k-NN, effective rank) as DVC plots in W/curves;
    # named by its import path, so a dumped config rebuilds with no extra custom_imports
    dict(type='ortho_suite.train.curves.TrainingCurvesHook'),
]
# solo-learn's online linear classifier (ortho_suite/train/online_probe.py): trained on the detached
# backbone features of the training views with its own optimizer (the run's type, lr below, no
# weight decay, the run's schedule), evaluated on the test split every eval_interval epochs and
# after the last (test_samples: None = the whole split). lr: solo-learn's optimizer.classifier_lr,
# 0.1 in most of its scripts; the recipes set their script's.
online_probe = dict(enabled=True, lr=0.1, eval_interval=1, test_samples=None)

# How a GPU executes the step; ortho_suite.train.compose.apply_speed turns these into mmengine settings.
#   bf16: autocast the backbone to bfloat16 (AmpOptimWrapper, no loss scaling); projectors, losses
#         and penalties stay float32 (ortho_suite/models/precision.py). Changes the numerics, so
#         it is part of the experiment (and of its config hash). CUDA only.
#   channels_last: channels-last weights and views (same math, faster convolutions; also on CPU
#         for the smoke profile's narrow networks: README, Measured performance). The weights
#         are initialised in the standard layout, so a run starts from the same weights.
#   compile: torch.compile the backbone's forward.
speed = dict(bf16=False, channels_last=False, compile=False)

# Batch norms synchronised across processes in distributed runs, as in the official code of
# SimCLR, BYOL, Barlow Twins, VICReg, INTL, DirectCLR and solo-learn's recipes: with it, the
# statistics see the global batch whatever the number of processes. No effect in one process.
sync_bn = 'torch'

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
log_processor = dict(window_size=10)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
