"""Composition of method, backbone and dataset fragments into one mmengine config."""
from __future__ import annotations

import pytest

from ortho_suite.errors import UsageError
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose


def _compose(method="simclr", options=None, epochs=None, work_dir="/tmp/unused"):
    return compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", epochs=epochs, cfg_options=options), work_dir)


def test_fragments_are_merged():
    cfg = _compose()
    assert cfg.model.type == "EncoderRegularized" and cfg.model.algorithm == "SimCLR"
    assert cfg.model.backbone.type == "ResNetCIFAR"
    assert cfg.train_dataloader.dataset.type == "SyntheticImages"
    assert cfg.model.data_preprocessor.type == "SSLViewsPreprocessor"
    assert len(cfg.model.data_preprocessor.views) == 2  # the dataset's default recipe
    assert cfg.ortho_suite.aug == "solo_cifar_symmetric"
    assert cfg.default_scope == "mmselfsup"


@pytest.mark.parametrize("width", [8, 16, 64])
def test_projector_input_follows_backbone_width(width):
    cfg = _compose(options=[f"model.backbone.width={width}"])
    assert cfg.model.neck.in_channels == 8 * width


def test_dependent_widths_follow_projector_output():
    bt = _compose("barlowtwins", options=["model.neck.out_channels=96"])
    assert bt.model.head.in_channels == 96
    byol = _compose("byol", options=["model.neck.out_channels=48"])
    assert byol.model.head.predictor.in_channels == byol.model.head.predictor.out_channels == 48


def test_epochs_stretch_the_cosine_schedule():
    cfg = _compose(epochs=7)
    assert cfg.train_cfg.max_epochs == 7
    assert cfg.param_scheduler[-1].end == 7 and cfg.param_scheduler[-1].T_max == 7


def test_cfg_options_values_are_typed():
    cfg = _compose(options=["optim_wrapper.optimizer.lr=0.3", "model.backbone.zero_init_residual=False",
                            "model.backbone.out_indices=[1,4]"])
    assert cfg.optim_wrapper.optimizer.lr == 0.3
    assert cfg.model.backbone.zero_init_residual is False
    assert list(cfg.model.backbone.out_indices) == [1, 4]


def test_cfg_option_may_add_an_argument_to_an_existing_section():
    cfg = _compose(options=["model.backbone.frozen_stages=1"])
    assert cfg.model.backbone.frozen_stages == 1


def test_config_hash_ignores_location_but_not_content():
    a = compose.config_hash(_compose(work_dir="/tmp/a"))
    b = compose.config_hash(_compose(work_dir="/tmp/b"))
    c = compose.config_hash(_compose(options=["model.backbone.width=8"]))
    assert a == b != c


def test_typo_in_option_raises_usage_error():
    with pytest.raises(UsageError, match="not in the composed config"):
        _compose(options=["train_dataloder.batch_size=4"])
