"""The online linear probe: solo-learn's online classifier, as an mmengine hook beside the SSL step.

solo-learn (``solo/methods/base.py``), whose numbers the OR paper's CIFAR and ImageNet-100 tables
and solo-learn's own tables print, trains a linear classifier on the *detached* backbone features
of every large crop of every training batch, with their labels, during pretraining: one more
parameter group of the main optimizer (``optimizer.classifier_lr``, weight decay 0, the same
warm-up cosine schedule; under LARS its weight gets the trust ratio, its bias not), its
cross-entropy averaged over the crops and added to the SSL loss (the detach keeps it out of the
backbone's gradient). Lightning validates it on the whole validation split after every epoch
(backbone in eval mode, evaluation transform); ``val_acc1`` of the last epoch is the published
number.

:class:`OnlineLinearProbeHook` computes the same, with these differences in form (none in the
backbone's training; tests/test_online_probe.py):

- The head has its **own optimizer** (the run's optimizer type and arguments, ``lr`` =
  ``online_probe.lr``, weight decay 0) and its own copies of the run's learning-rate schedulers,
  so its parameters never enter the backbone's optimizer state. Each parameter's update is that of
  its group in solo-learn's single optimizer (SGD, LARS and AdamW update tensors independently).
  solo-learn's warm-up starts every group at the absolute ``warmup_start_lr``; the copies do too.
- It is stepped after the SSL step, on the features that step computed (captured from the
  backbone's forward, no second forward), with its cross-entropy over all large crops of the
  batch at once: the mean over the crops of solo-learn's per-crop means, as every crop has the
  batch's size.
- Its weights are drawn from their own generator (seeded from the run's seed) and its evaluation
  runs outside the global random stream, so the backbone's run is bitwise the one without probe.
- In distributed runs its gradients are averaged across processes (solo-learn's DDP does the
  same); it is evaluated on the main process.

Labels reach the step as one batched tensor: the in-memory loader yields each batch's sample
indices (:mod:`ortho_suite.train.loops`), a DataLoader's batch sampler records them; the labels are
read from one device-resident copy of the dataset's labels.
"""
from __future__ import annotations

from collections import deque

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook

from mmselfsup.registry import HOOKS

from ..datasets.base import dataset_labels
from .hooks import STATE_KEY, _checkpoint_state, last_and_best, logs_this_iteration
from .loops import SAMPLE_INDICES, DeviceResidentBatches

# The probe's generator seed is the run's seed plus this offset (any fixed value would do; it keeps
# the head's draws apart from everything seeded with the run's seed itself).
HEAD_SEED_OFFSET = 7919


class _RecordingSampler:
    """Wraps a batch sampler's sampler and keeps the indices it hands out, in order: a DataLoader
    yields its batches in sampler order (workers included), so the oldest recorded indices are
    those of the batch being trained on."""

    def __init__(self, sampler, record: deque) -> None:
        self.sampler, self.record = sampler, record

    def __iter__(self):
        for index in self.sampler:
            self.record.append(index)
            yield index

    def __len__(self) -> int:
        return len(self.sampler)

    def __getattr__(self, name):
        return getattr(self.sampler, name)


@HOOKS.register_module()
class OnlineLinearProbeHook(Hook):
    """Trains and evaluates the online linear probe (module docstring) as the run's config
    ``online_probe`` says: ``enabled``, ``lr`` (solo-learn's ``classifier_lr``), ``eval_interval``
    (epochs; the last epoch is always evaluated) and ``test_samples`` (None: the whole test split).
    Logs ``online_linear_loss`` with the training losses and ``online_linear_top1/top5`` after each
    evaluation; ``history`` (one row per evaluated epoch) goes into the run summary."""

    priority = "NORMAL"  # before LoggerHook: the probe's loss is logged with the step's

    def __init__(self) -> None:
        self.history: list[dict] = []
        self.head: torch.nn.Linear | None = None
        self.optimizer = None
        self.schedulers: list = []
        self._pending_state: dict | None = None
        self._captured: list = []
        self._views = None
        self._layouts: dict[int, str] = {}
        self._recorded: deque | None = None
        self._losses: list = []
        self._handles: list = []
        self._test_set = None

    # ---- set-up --------------------------------------------------------------------------------
    def before_train(self, runner) -> None:
        self.settings = {**dict(enabled=True, lr=0.1, eval_interval=1, test_samples=None),
                         **runner.cfg.get("online_probe", {})}
        if not self.settings["enabled"]:
            return
        model = self._model(runner)
        self.device = next(model.parameters()).device
        loader = runner.train_loop.dataloader
        dataset = loader.dataset
        labels = dataset_labels(dataset)
        self.labels = torch.as_tensor(labels, dtype=torch.long).to(self.device)
        classes = (dataset.metainfo or {}).get("classes")
        self.num_classes = len(classes) if classes else int(labels.max()) + 1
        if not isinstance(loader, DeviceResidentBatches):
            self._recorded = deque()
            loader.batch_sampler.sampler = _RecordingSampler(loader.batch_sampler.sampler,
                                                             self._recorded)
        self._handles = [
            model.backbone.register_forward_hook(self._capture_features),
            model.data_preprocessor.register_forward_hook(self._capture_views)]
        from mmengine.dist import is_main_process

        if is_main_process():
            from ..build import feature_dataset

            self._test_set = feature_dataset(runner.cfg, runner.cfg.feature_data.test_split,
                                             self.settings["test_samples"])

    @staticmethod
    def _model(runner):
        return getattr(runner.model, "module", runner.model)

    def _build_head(self, runner, in_features: int) -> None:
        from ..compat import build_param_schedulers

        # PyTorch's default initialisation of a Linear (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the
        # weight and the bias), drawn from the head's own generator: no global (CPU or CUDA) draw.
        head = torch.nn.utils.skip_init(torch.nn.Linear, in_features, self.num_classes)
        generator = torch.Generator().manual_seed(runner.cfg.randomness.seed + HEAD_SEED_OFFSET)
        bound = in_features ** -0.5
        with torch.no_grad():
            for p in (head.weight, head.bias):
                p.uniform_(-bound, bound, generator=generator)
        self.head = head.to(self.device)
        optimizer_cfg = dict(runner.cfg.optim_wrapper.optimizer)
        optimizer_type = optimizer_cfg.pop("type")
        optimizer_cfg.update(lr=self.settings["lr"], weight_decay=0.0)
        from mmselfsup.registry import OPTIMIZERS

        self.optimizer = OPTIMIZERS.build(dict(type=optimizer_type,
                                               params=self.head.parameters(), **optimizer_cfg))
        self.schedulers = build_param_schedulers(runner, self.optimizer, self._scheduler_cfgs(runner))
        if self._pending_state is not None:
            self._load(self._pending_state)
            self._pending_state = None

    def _scheduler_cfgs(self, runner) -> list[dict]:
        """The run's learning-rate schedulers for the head. solo-learn's warm-up starts every
        group at the same absolute rate (``optim_recipe.warmup_start_lr``): the head's warm-up
        start factor is that rate over the head's."""
        from .compose import WARMUP_FROM_ZERO

        start_lr = (runner.cfg.get("optim_recipe") or {}).get("warmup_start_lr")
        cfgs = []
        for cfg in runner.cfg.param_scheduler or []:
            cfg = dict(cfg)
            if not cfg["type"].endswith("LR"):
                continue
            if cfg["type"] == "LinearLR" and start_lr is not None:
                cfg["start_factor"] = min(max(start_lr / self.settings["lr"], WARMUP_FROM_ZERO), 1.0)
            cfgs.append(cfg)
        return cfgs

    # ---- capture during the SSL step -----------------------------------------------------------
    def _capture_views(self, module, args, output) -> None:
        if module.training and not self._layouts:
            self._views = output[0]

    def _capture_features(self, module, args, output) -> None:
        if module.training:
            self._captured.append((args[0] if not self._layouts else None, output[-1].detach()))

    def before_train_epoch(self, runner) -> None:
        if self._recorded is not None:
            self._recorded.clear()  # a dropped last batch leaves indices behind

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._captured = []

    def _batch_labels(self, data_batch: dict) -> torch.Tensor:
        if SAMPLE_INDICES in data_batch:
            index = data_batch[SAMPLE_INDICES]
        else:
            size = len(data_batch["inputs"][0])
            index = torch.as_tensor([self._recorded.popleft() for _ in range(size)])
        return self.labels.index_select(0, index.to(self.device))

    def _layout(self, call: int, images: torch.Tensor, batch: int) -> str:
        """How the ``call``-th backbone forward of a step stacks the views (found once, on the
        first step): ``batch`` rows are one view; k x batch rows are k views one after the
        other ("stacked") or sample by sample ("interleaved", mmselfsup's SimCLR)."""
        if call not in self._layouts:
            rows = len(images)
            if rows == batch or batch == 1:
                layout = "one"
            elif rows % batch == 0 and torch.equal(images[1], self._views[0][1]):
                layout = "stacked"
            elif rows % batch == 0 and torch.equal(images[1], self._views[1][0]):
                layout = "interleaved"
            else:
                raise RuntimeError(f"online linear probe: a backbone forward of {rows} images in "
                                   f"a batch of {batch} matches no known view layout")
            self._layouts[call] = layout
        return self._layouts[call]

    def _features_and_labels(self, labels: torch.Tensor):
        batch = len(labels)
        first_shape = None
        features, targets = [], []
        for call, (images, stages) in enumerate(self._captured):
            shape = stages.shape[2:]
            first_shape = first_shape or shape
            if shape != first_shape:
                continue  # a small crop: solo-learn's classifier sees the large crops only
            layout = self._layout(call, images, batch) if images is not None else self._layouts[call]
            k = len(stages) // batch
            features.append(stages.float().mean(dim=(2, 3)))
            targets.append(labels if layout == "one" else
                           labels.repeat(k) if layout == "stacked" else labels.repeat_interleave(k))
        self._captured, self._views = [], None
        return torch.cat(features), torch.cat(targets)

    # ---- the probe's step ----------------------------------------------------------------------
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.settings["enabled"] or not self._captured:
            return
        features, targets = self._features_and_labels(self._batch_labels(data_batch))
        if self.head is None:
            self._build_head(runner, features.shape[1])
        with torch.autocast(device_type=self.device.type, enabled=False):
            loss = F.cross_entropy(self.head(features), targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        from mmengine.dist import all_reduce, get_world_size

        if get_world_size() > 1:
            for p in self.head.parameters():
                all_reduce(p.grad, op="mean")
        self.optimizer.step()
        for scheduler in self.schedulers:
            if not scheduler.by_epoch:
                scheduler.step()
        self._losses.append(loss.detach())
        if logs_this_iteration(runner, batch_idx):  # one host read per logged interval
            for value in torch.stack(self._losses).cpu().tolist():
                runner.message_hub.update_scalar("train/online_linear_loss", value)
            self._losses = []

    def after_train_epoch(self, runner) -> None:
        if not self.settings["enabled"] or self.head is None:
            return
        for scheduler in self.schedulers:
            if scheduler.by_epoch:
                scheduler.step()
        epoch = runner.epoch + 1
        interval = self.settings["eval_interval"]
        if self._test_set is None or not (epoch == runner.max_epochs or
                                          (interval and epoch % interval == 0)):
            return
        self.history.append({"epoch": epoch, **self.evaluate(runner)})
        row = self.history[-1]
        runner.message_hub.update_scalar("train/online_linear_top1", row["top1"])
        runner.logger.info(f"online linear probe epoch {epoch}: top-1 {row['top1']:.2f}%, "
                           f"top-5 {row['top5']:.2f}%")

    @torch.no_grad()
    def evaluate(self, runner) -> dict:
        """top-1 / top-5 of the head on the test split's representations (backbone in eval mode,
        the dataset's evaluation view), outside the global random stream."""
        from ..features import extract
        from ..probes import topk_accuracy

        model = self._model(runner)
        was_training = model.training
        model.eval()
        try:
            with torch.random.fork_rng(devices=[]):  # the DataLoader draws a seed
                test = extract(model, self._test_set, 512, self.device, "online probe test",
                               progress=False)
        finally:
            model.train(was_training)
        logits = self.head(test["representation"].to(self.device)).cpu()
        return {**topk_accuracy(logits, test["labels"]), "test_images": len(test["labels"])}

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # ---- resumption ----------------------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = {"history": list(self.history)}
        if self.head is not None:
            state.update(head=self.head.state_dict(), optimizer=self.optimizer.state_dict(),
                         schedulers=[s.state_dict() for s in self.schedulers])
        _checkpoint_state(checkpoint)["online_linear_probe"] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(STATE_KEY, {}).get("online_linear_probe")
        if state is None:
            return
        self.history = list(state["history"])
        if "head" in state:
            self._pending_state = state  # the head is built at the first step (its width)

    def _load(self, state: dict) -> None:
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
        for scheduler, s in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(s)


def summarize_history(history: list[dict]) -> dict | None:
    """The probe's record for ``summary.json``: every evaluated epoch, the last and the best
    (highest top-1; the earliest of equal ones), each naming its epoch."""
    summary = last_and_best(history, "top1")
    return summary and {**summary, "history": list(history)}
