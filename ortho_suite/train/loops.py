"""The training loop: mmengine's epoch loop, with in-memory datasets served from the device.

An :class:`~ortho_suite.datasets.base.ArrayImageDataset` (CIFAR-10/100, Fashion-MNIST, generated
images) whose pipeline only packs the image is a fixed uint8 array: no per-sample transform, no
randomness. :class:`DeviceResidentBatches` copies that array to the training device once and
makes each batch there with one indexing kernel, in the sampler's order, so a step needs no
loader worker, no per-sample collation and no host-to-device copy. Everything else (folder
datasets such as ImageNet, pipelines with per-sample transforms or labels) keeps mmengine's
DataLoader and its workers.

The batches are those of the DataLoader bitwise: same sampler (its seed, ``set_epoch`` and thus
resumption unchanged), same ``drop_last``, same ``{"inputs": [uint8 B x 3 x H x W],
"data_samples": [...]}`` layout (plus the batch's dataset indices, ``SAMPLE_INDICES``); even the one draw the DataLoader takes from the global random
generator when an epoch's iteration starts is taken, so the random stream that follows (the
augmentation's on CPU) is the same (tests/test_loops.py).
"""
from __future__ import annotations

import torch
from mmengine.dataset import default_collate
from mmengine.runner import EpochBasedTrainLoop
from mmselfsup.registry import LOOPS
from mmselfsup.structures import SelfSupDataSample

from ..datasets.base import ArrayImageDataset, channels_first, packs_only

# The batch key holding the batch's dataset indices (a device tensor), read by the online linear
# probe for the labels (ortho_suite/train/online_probe.py); the model reads only inputs and samples.
SAMPLE_INDICES = "sample_indices"


def serves_from_device(loader) -> bool:
    """Whether :class:`DeviceResidentBatches` can stand in for ``loader`` (same batches)."""
    return isinstance(loader, torch.utils.data.DataLoader) and \
        isinstance(loader.dataset, ArrayImageDataset) and \
        isinstance(loader.batch_sampler, torch.utils.data.BatchSampler) and \
        getattr(loader.collate_fn, "func", loader.collate_fn) is default_collate and \
        packs_only(loader.dataset)


class DeviceResidentBatches:
    """The batches of ``loader`` (a DataLoader over an image-only ArrayImageDataset) made on
    ``device`` from one resident copy of the images.

    Exposes what mmengine and its hooks read from a DataLoader: ``dataset``, ``sampler``
    (``DistSamplerSeedHook`` calls its ``set_epoch``), ``batch_size``, ``len()``.
    """

    def __init__(self, loader: torch.utils.data.DataLoader, device: torch.device) -> None:
        self.dataset, self.sampler = loader.dataset, loader.sampler
        self.batch_size, self.drop_last = loader.batch_size, loader.drop_last
        self._batch_sampler = loader.batch_sampler
        self._generator = loader.generator
        # A DataLoader draws its workers' base seed from the global generator when an epoch's
        # iterator is made, only once where its workers persist.
        self._draws_every_epoch = not (loader.persistent_workers and loader.num_workers > 0)
        self._drawn = False
        self.dataset.full_init()
        self.images = channels_first(self.dataset.images).to(device)
        self.device = device
        # No SSL loss reads the (empty) data samples; one list is made and handed to every step.
        self._samples = [SelfSupDataSample() for _ in range(self.batch_size)]

    def __len__(self) -> int:
        return len(self._batch_sampler)

    def __iter__(self):
        if self._draws_every_epoch or not self._drawn:
            torch.empty((), dtype=torch.int64).random_(generator=self._generator)
            self._drawn = True
        order = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long).to(self.device)
        size, batches = self.batch_size, len(self)
        for b in range(batches):
            index = order[b * size:(b + 1) * size]
            samples = self._samples if len(index) == size else self._samples[:len(index)]
            yield {"inputs": [self.images.index_select(0, index)], "data_samples": samples,
                   SAMPLE_INDICES: index}


@LOOPS.register_module()
class DeviceDataEpochTrainLoop(EpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop``; ``device_data=True`` (the default) serves an
    image-only in-memory dataset from the training device (:class:`DeviceResidentBatches`).
    ``train_cfg.device_data=False`` keeps the DataLoader (and its workers) for every dataset."""

    def __init__(self, runner, dataloader, max_epochs: int, device_data: bool = True,
                 **kwargs) -> None:
        super().__init__(runner, dataloader, max_epochs, **kwargs)
        if device_data and serves_from_device(self.dataloader):
            param = next(iter(runner.model.parameters()), None)
            device = param.device if param is not None else torch.device("cpu")
            self.dataloader = DeviceResidentBatches(self.dataloader, device)
