"""DINO multi-crop (augmentations/dino_*_multicrop.py, ema_algorithms.DINO local_crops, compose's
_fit_local_crops): the loss over all (global i, view j != i) pairs against an independent float64
evaluation of the official formula, the teacher seeing global crops only, the views' sizes,
0 local crops being the two-crop path, a real optimizer step, and the one-line errors."""
from __future__ import annotations

import uuid

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

from ortho_suite import build, cli, losses
from ortho_suite.errors import UsageError
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose

from .test_recipes import _model_and_optimizer

TINY = ["model.backbone.width=4", "model.neck.hid_channels=32", "model.neck.out_channels=16",
        "model.neck.num_prototypes=16", "custom_hooks.1.interval=0"]


@pytest.fixture(autouse=True)
def _hub():
    """A message hub with max_iters, as the runner gives the EMA schedule."""
    MessageHub.get_instance(f"test-dino-multicrop-{uuid.uuid4()}").update_info("max_iters", 100)


def _cfg(aug="dino_cifar_multicrop", options=(), method="dino", backbone="resnet18_cifar",
         dataset="cifar10"):
    return compose.compose_config(RunSpec(method, backbone, dataset, aug=aug,
                                          cfg_options=tuple(TINY) + tuple(options)), "/tmp/unused")


def _images(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 32, 32, generator=g) * 255).to(torch.uint8)


def _official_loss_float64(student_views, teacher_views, center, student_temp, teacher_temp):
    """The formula of facebookresearch/dino DINOLoss.forward, written out in float64: the student
    output concatenated and chunked per crop, the teacher's into its 2 global crops, the sum of
    -q log p over every (teacher i, student v != i) pair of its batch mean, divided by the number
    of pairs."""
    s = torch.cat(student_views).double() / student_temp
    t = torch.cat(teacher_views).double()
    s_chunks = s.chunk(len(student_views))
    q_all = torch.exp((t - center.double()) / teacher_temp)
    q_chunks = (q_all / q_all.sum(dim=-1, keepdim=True)).chunk(2)
    total, pairs = 0.0, 0
    for i, q in enumerate(q_chunks):
        for v, chunk in enumerate(s_chunks):
            if v == i:
                continue
            log_p = chunk - torch.log(torch.exp(chunk).sum(dim=-1, keepdim=True))
            total = total + (-(q * log_p).sum(dim=-1)).mean()
            pairs += 1
    assert pairs == 2 * len(student_views) - 2
    return total / pairs


@pytest.mark.parametrize("local", [0, 2, 6])
def test_loss_with_local_crops_matches_the_official_formula(local):
    g = torch.Generator().manual_seed(local)
    n, k = 5, 7
    student = [torch.randn(n, k, generator=g, dtype=torch.float64, requires_grad=True)
               for _ in range(2 + local)]
    teacher = [torch.randn(n, k, generator=g, dtype=torch.float64) for _ in range(2)]
    center = torch.randn(1, k, generator=g, dtype=torch.float64) * 0.1
    ours = losses.dino_loss(student, teacher, center, 0.1, 0.07)
    ref_student = [s.detach().clone().requires_grad_() for s in student]
    ref = _official_loss_float64(ref_student, teacher, center, 0.1, 0.07)
    assert abs(ours.item() - ref.item()) < 1e-6
    ours.backward()
    ref.backward()
    for a, b in zip(student, ref_student):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=0)


def test_recipes_expand_to_the_crop_count_with_the_recipe_sizes():
    cfg = _cfg(options=["model.local_crops=3"])
    views = cfg.model.data_preprocessor.views
    assert [v.size for v in views] == [32, 32, 18, 18, 18]
    assert [(v.blur, v.solarize) for v in views] == [(1.0, 0.0), (0.1, 0.2)] + [(0.5, 0.0)] * 3
    assert [tuple(v.crop_scale) for v in views] == [(0.4, 1.0)] * 2 + [(0.05, 0.4)] * 3
    model = build.build_model(cfg).train()
    out, _ = model.data_preprocessor({"inputs": [_images()], "data_samples": None}, training=True)
    assert [tuple(v.shape) for v in out] == [(4, 3, 32, 32)] * 2 + [(4, 3, 18, 18)] * 3
    assert _cfg().model.local_crops == 6  # the recipe's default count


def test_imagenet_recipe_sets_the_cpu_crops():
    cfg = _cfg("dino_imagenet_multicrop", dataset="imagenet100", backbone="resnet18",
               options=["model.local_crops=2"])
    multiview = cfg.train_dataloader.dataset.pipeline[1]
    assert multiview.num_views == [1, 1, 2]
    assert [(t[0].size, tuple(t[0].scale)) for t in multiview.transforms] == [
        (224, (0.4, 1.0)), (224, (0.4, 1.0)), (96, (0.05, 0.4))]
    assert [v.size for v in cfg.model.data_preprocessor.views] == [224, 224, 96, 96]
    assert all(v.crop is False for v in cfg.model.data_preprocessor.views)
    none = _cfg("dino_imagenet_multicrop", dataset="imagenet100", backbone="resnet18",
                options=["model.local_crops=0"]).train_dataloader.dataset.pipeline[1]
    assert none.num_views == [1, 1] and len(none.transforms) == 2


def test_teacher_sees_only_global_crops_and_student_one_forward_per_resolution():
    cfg = _cfg(options=["model.local_crops=2"])
    torch.manual_seed(0)
    model = build.build_model(cfg).train()
    seen = {"student": [], "teacher": []}
    model.backbone.register_forward_hook(
        lambda m, args, out: seen["student"].append(tuple(args[0].shape)))
    model.target_net.module[0].register_forward_hook(
        lambda m, args, out: seen["teacher"].append(tuple(args[0].shape)))
    views, _ = model.data_preprocessor({"inputs": [_images()], "data_samples": None},
                                       training=True)
    loss = model.loss(views, None)["loss_ssl"]
    assert torch.isfinite(loss)
    assert seen["teacher"] == [(8, 3, 32, 32)]
    assert seen["student"] == [(8, 3, 32, 32), (8, 3, 18, 18)]


def _seeded_loss(cfg, seed=3):
    torch.manual_seed(0)
    model = build.build_model(cfg).train()
    torch.manual_seed(seed)
    views, _ = model.data_preprocessor({"inputs": [_images()], "data_samples": None},
                                       training=True)
    return model.loss(views, None)["loss_ssl"], model.center.clone()


def test_zero_local_crops_is_the_two_crop_path():
    plain = _cfg("solo_cifar_asymmetric")
    assert "local_crops" not in plain.pretty_text  # existing configs compose as before
    explicit = _cfg("solo_cifar_asymmetric", options=["model.local_crops=0"])
    assert _seeded_loss(plain)[0].item() == _seeded_loss(explicit)[0].item()
    # the multi-crop recipe with 0 local crops: its two global views, the two-crop forwards
    cfg = _cfg(options=["model.local_crops=0"])
    assert len(cfg.model.data_preprocessor.views) == 2
    loss, center = _seeded_loss(cfg)
    assert torch.isfinite(loss) and torch.isfinite(center).all()


def test_a_real_step_with_two_plus_two_crops_moves_the_weights():
    cfg = _cfg(options=["model.local_crops=2", "train_dataloader.batch_size=8"])
    model, optim_wrapper = _model_and_optimizer(cfg)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    views, _ = model.data_preprocessor({"inputs": [_images(8)], "data_samples": None},
                                       training=True)
    optim_wrapper.update_params(model.loss(views, None)["loss_ssl"])
    after = dict(model.named_parameters())
    assert all(torch.isfinite(after[n]).all() for n in before)
    assert any(not torch.equal(after[n], b) for n, b in before.items())
    assert not torch.equal(after["backbone.conv1.weight"], before["backbone.conv1.weight"])


@pytest.mark.parametrize("options,extra,message", [
    (["model.local_crops=-1"], {}, "model.local_crops=-1 must be a whole number >= 0"),
    (["model.data_preprocessor.views.2.size=40"], {}, "larger than the global crops"),
    (["model.data_preprocessor.views.2.crop_scale=(0.5,0.2)"], {}, "0 < low <= high <= 1"),
    ([], {"method": "byol"}, "takes no local crops"),
    (["model.local_crops=2"], {"aug": "solo_cifar_asymmetric"}, "needs an augmentation with three"),
])
def test_bad_settings_are_one_line_usage_errors(options, extra, message):
    with pytest.raises(UsageError, match=message) as err:
        _cfg(options=options, **extra)
    assert "\n" not in str(err.value)


def test_cli_reports_a_negative_crop_count_on_one_line(tmp_path, capsys):
    code = cli.main(["pretrain", "--method", "dino", "--backbone", "resnet18_cifar", "--dataset",
                     "synthetic", "--aug", "dino_cifar_multicrop", "--work-dir",
                     str(tmp_path / "w"), "--cfg-options", "model.local_crops=-2"])
    err = capsys.readouterr().err
    assert code == 2 and "model.local_crops=-2" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()


def test_model_rejects_a_view_count_that_disagrees():
    cfg = _cfg(options=["model.local_crops=2"])
    model = build.build_model(cfg).train()
    with pytest.raises(ValueError, match="takes 4 views, got 2"):
        model.loss([torch.zeros(2, 3, 32, 32)] * 2, None)


def test_imagenet_loader_gives_the_global_and_local_crop_sizes(tmp_path):
    """The composed ImageNet-100 config on a fixture tree: per-image CPU crops of 224 and 96 px
    from the loader, then the preprocessor's batched colour operations on each size."""
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import DATASETS, MODELS

    from ortho_suite.datasets import imagenet100_classes

    from .fixtures import make_imagenet_tree

    make_imagenet_tree(tmp_path, imagenet100_classes(), splits=("train",))
    cfg = compose.compose_config(RunSpec("dino", "resnet18", "imagenet100",
                                         aug="dino_imagenet_multicrop",
                                         cfg_options=("model.local_crops=2",)),
                                 tmp_path / "w", data_root=str(tmp_path))
    build.check_data(cfg)
    with DefaultScope.overwrite_default_scope("mmselfsup"):
        item = DATASETS.build(cfg.train_dataloader.dataset)[0]
        preprocessor = MODELS.build(cfg.model.data_preprocessor)
    sizes = [224, 224, 96, 96]
    assert [tuple(x.shape) for x in item["inputs"]] == [(3, s, s) for s in sizes]
    batch = {"inputs": [x.unsqueeze(0) for x in item["inputs"]], "data_samples": [item["data_samples"]]}
    views, _ = preprocessor(batch, training=True)
    assert [tuple(v.shape) for v in views] == [(1, 3, s, s) for s in sizes]
