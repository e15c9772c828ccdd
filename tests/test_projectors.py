"""DirectCLR Table 2's projectors (models/projectors.py), their runs, and VICReg without a
projector (OR Table 8)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ortho_suite import build, losses
from ortho_suite.cli import main
from ortho_suite.errors import UsageError
from ortho_suite.models.projectors import (
    FixedLowRankDiagonalProjector,
    FixedLowRankProjector,
    FixedOrthogonalProjector,
    LinearProjector,
    TrainableDiagonalProjector,
)
from ortho_suite.profiles import load_profile
from ortho_suite.regularizers import orthogonality_penalty
from ortho_suite.report import table_specs
from ortho_suite.runs import DEFAULT_VARIANT, RunSpec
from ortho_suite.train import compose

from .conftest import REPO

D = 64  # width-8 ResNet-18 representation
WIDTH = ["model.backbone.width=8", "custom_hooks.1.interval=0"]
NECKS = {
    "LinearProjector": [],
    "FixedOrthogonalProjector": [],
    "TrainableDiagonalProjector": [],
    "FixedLowRankProjector": ["model.neck.rank=16"],
    "FixedLowRankDiagonalProjector": ["model.neck.rank=16"],
}


def _reps(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, D, generator=g, dtype=torch.float64).float()


def _directclr(neck: str | None, extra=(), seed=0):
    options = WIDTH + (["model.dim=None", f"model.neck.type={neck}", *NECKS[neck]] if neck else [])
    cfg = compose.compose_config(RunSpec("directclr", "resnet18_cifar", "synthetic", cfg_options=options + list(extra)), "/tmp/unused")
    torch.manual_seed(seed)
    return build.build_model(cfg).train()


# ------------------------------------------------------------------ each projector's definition


def test_linear_projector_is_a_bias_free_trainable_map_to_128():
    proj = LinearProjector(D)
    r = _reps()
    (z,) = proj((r,))
    w = proj.linear.weight.detach().double().numpy()
    assert z.shape == (16, 128) and proj.linear.bias is None
    np.testing.assert_allclose(z.detach().double().numpy(), r.double().numpy() @ w.T, atol=1e-5)
    assert [name for name, p in proj.named_parameters() if p.requires_grad] == ["linear.weight"]


def test_fixed_orthogonal_projector_preserves_norms_and_is_not_trained():
    torch.manual_seed(0)
    proj = FixedOrthogonalProjector(D)
    q = proj.weight.double().numpy()
    np.testing.assert_allclose(q.T @ q, np.eye(D), atol=1e-5)
    r = _reps()
    (z,) = proj((r,))
    np.testing.assert_allclose(z.norm(dim=1).numpy(), r.norm(dim=1).numpy(), rtol=1e-5)
    assert list(proj.parameters()) == [] and "weight" in proj.state_dict()  # a buffer


def test_orthogonal_projector_leaves_the_infonce_and_its_gradient_unchanged():
    """Why a fixed orthogonal W stands for the paper's trainable orthogonal one: the loss on
    normalized outputs is the no-projector loss, so the backbone's gradient is the same."""
    torch.manual_seed(0)
    proj = FixedOrthogonalProjector(D)
    r1, r2 = _reps(seed=1).requires_grad_(), _reps(seed=2).requires_grad_()
    plain = losses.directclr_loss(r1, r2, dim=None, gather=False)
    projected = losses.directclr_loss(proj((r1,))[0], proj((r2,))[0], dim=None, gather=False)
    assert projected.item() == pytest.approx(plain.item(), rel=1e-5)
    g_plain = torch.autograd.grad(plain, (r1, r2))
    g_proj = torch.autograd.grad(projected, (r1, r2))
    for a, b in zip(g_plain, g_proj):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_trainable_diagonal_projector_scales_each_coordinate():
    proj = TrainableDiagonalProjector(D)
    r = _reps()
    assert torch.equal(proj((r,))[0], r)  # starts at the identity
    with torch.no_grad():
        proj.diagonal.copy_(torch.linspace(-2, 2, D))
    (z,) = proj((r,))
    expected = r.double().numpy() @ np.diag(np.linspace(-2, 2, D))
    np.testing.assert_allclose(z.detach().double().numpy(), expected, atol=1e-5)
    assert [name for name, p in proj.named_parameters() if p.requires_grad] == ["diagonal"]


def test_fixed_low_rank_projector_has_rank_ones_as_singular_values():
    torch.manual_seed(0)
    proj = FixedLowRankProjector(D, rank=16)
    singular = np.linalg.svd(proj.weight.double().numpy(), compute_uv=False)
    np.testing.assert_allclose(singular[:16], 1.0, atol=1e-5)
    np.testing.assert_allclose(singular[16:], 0.0, atol=1e-5)
    # not diagonal: the kept subspace is a random one, not the first coordinates
    assert np.abs(proj.weight.numpy() - np.diag(np.diag(proj.weight.numpy()))).max() > 0.05
    r = _reps()
    np.testing.assert_allclose(proj((r,))[0].double().numpy(),
                               r.double().numpy() @ proj.weight.double().numpy().T, atol=1e-5)
    assert list(proj.parameters()) == [] and "weight" in proj.state_dict()


def test_fixed_low_rank_diagonal_projector_keeps_the_first_rank_coordinates():
    proj = FixedLowRankDiagonalProjector(D, rank=16)
    r = _reps()
    (z,) = proj((r,))
    assert torch.equal(z[:, :16], r[:, :16]) and not z[:, 16:].any()
    assert list(proj.parameters()) == [] and "mask" in proj.state_dict()
    # with DirectCLR's InfoNCE on the whole output, this is DirectCLR on the first 16 dims
    r2 = _reps(seed=3)
    assert losses.directclr_loss(z, proj((r2,))[0], dim=None, gather=False).item() == pytest.approx(
        losses.directclr_loss(r, r2, dim=16, gather=False).item(), rel=1e-6)


def test_projectors_pool_feature_maps_and_check_their_rank():
    proj = FixedLowRankDiagonalProjector(D, rank=D)
    maps = torch.randn(4, D, 3, 3)
    torch.testing.assert_close(proj((maps,))[0], maps.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="rank must be in 1..64"):
        FixedLowRankProjector(D, rank=65)


def test_fixed_matrices_are_restored_from_a_checkpoint():
    torch.manual_seed(0)
    saved = FixedLowRankProjector(D, rank=8).state_dict()
    torch.manual_seed(1)
    other = FixedLowRankProjector(D, rank=8)
    assert not torch.equal(other.weight, saved["weight"])
    other.load_state_dict(saved)
    assert torch.equal(other.weight, saved["weight"])


# ------------------------------------------------------------------ in the DirectCLR algorithm


@pytest.mark.parametrize("neck", sorted(NECKS))
def test_projector_is_a_neck_outside_the_backbone(neck):
    model = _directclr(neck)
    assert model.with_neck and type(model.neck).__name__ == neck
    assert model.neck.in_channels == D  # derived from the backbone
    assert not any(type(m).__name__ == neck for m in model.backbone.modules())
    baseline = _directclr(None, extra=["model.dim=None"])  # same seed, same backbone weights
    assert orthogonality_penalty(model.backbone, "so").item() == pytest.approx(
        orthogonality_penalty(baseline.backbone, "so").item(), rel=1e-6)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n in trainable if n.startswith("neck.")} == {
        f"neck.{n}" for n, p in model.neck.named_parameters()}


def test_directclr_loss_is_taken_on_the_whole_projector_output():
    model = _directclr("FixedLowRankProjector")
    views = [torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    ours = model.loss(views, data_samples=[])["loss_ssl"]
    with torch.no_grad():
        z1 = model.neck(model.backbone(views[0]))[0]
        z2 = model.neck(model.backbone(views[1]))[0]
        expected = losses.directclr_loss(z1, z2, dim=None, temperature=0.1)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-5)


def test_low_rank_diagonal_projector_reproduces_directclr():
    """Table 2's last row is DirectCLR: same backbone, same loss value as dim=16 without neck."""
    views = [torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    projected = _directclr("FixedLowRankDiagonalProjector").loss(views, data_samples=[])["loss_ssl"]
    direct = _directclr(None, extra=["model.dim=16"]).loss(views, data_samples=[])["loss_ssl"]
    assert projected.item() == pytest.approx(direct.item(), rel=1e-5)


def test_projector_options_are_checked():
    def composed(*options):
        return compose.compose_config(RunSpec("directclr", "resnet18_cifar", "synthetic", cfg_options=WIDTH + list(options)), "/tmp/unused")

    with pytest.raises(UsageError, match="add --cfg-options model.dim=None"):
        composed("model.neck.type=LinearProjector")
    with pytest.raises(UsageError, match="must name its type"):
        composed("model.dim=None", "model.neck.rank=16")
    with pytest.raises(UsageError, match="rank=65 must be between 1 and the representation's 64"):
        composed("model.dim=None", "model.neck.type=FixedLowRankProjector", "model.neck.rank=65")
    with pytest.raises(UsageError, match="'model.nekc' is not in the composed config"):
        composed("model.nekc.type=LinearProjector")


def test_pretrain_with_a_projector_through_the_command_line(tmp_path):
    work_dir = tmp_path / "lowrank"
    rc = main(["pretrain", "--method", "directclr", "--backbone", "resnet18_cifar",
               "--dataset", "synthetic", "--work-dir", str(work_dir), "--epochs", "1",
               "--cfg-options", "model.backbone.width=8", "model.dim=None",
               "model.neck.type=FixedLowRankProjector", "model.neck.rank=16",
               "train_dataloader.batch_size=16", "train_dataloader.dataset.num_samples=32"])
    assert rc == 0
    summary = json.loads((work_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["iterations"] == 2
    checkpoint = torch.load(work_dir / "epoch_1.pth", map_location="cpu", weights_only=False)
    assert tuple(checkpoint["state_dict"]["neck.weight"].shape) == (D, D)  # the fixed matrix
    optimized = sum(len(g["params"]) for g in checkpoint["optimizer"]["param_groups"])
    model = _directclr("FixedLowRankProjector")
    assert optimized == len(list(model.backbone.parameters()))  # nothing of the neck


# ------------------------------------------------------------------ runs of the paper tables


def _rows_have_runs(table_id: str, profile_name: str) -> dict:
    table = next(t for t in table_specs.load_tables(REPO / "benchmarks" / "tables") if t.id == table_id)
    runs = load_profile(profile_name, REPO / "benchmarks" / "profiles")["runs"]
    matched = {}
    for row in table.rows:
        spec = {"variant": DEFAULT_VARIANT, **table_specs.cell_spec(table, row, table.columns[0])}
        hits = [run_id for run_id, run in runs.items()
                if all({**run, "variant": run.get("variant", DEFAULT_VARIANT)}.get(k) == v
                       for k, v in spec.items())]
        assert len(hits) == 1, (table_id, row.id, hits)
        matched[row.id] = runs[hits[0]]
    return matched


def test_every_directclr_table2_row_has_a_run_with_its_projector(tmp_path):
    expected = {"none": None, "orthogonal": "FixedOrthogonalProjector",
                "trainable": "LinearProjector",
                "trainable_diagonal": "TrainableDiagonalProjector",
                "fixed_lowrank": "FixedLowRankProjector", "fixed_lowrank_diagonal": None}
    for row_id, run in _rows_have_runs("directclr_t2", "imagenet").items():
        cfg = compose.compose_config(RunSpec(run["method"], run["backbone"], run["dataset"], aug=run["aug"], cfg_options=run["cfg_options"].split()), tmp_path / row_id)
        assert (cfg.model.get("neck") or {}).get("type") == expected[row_id], row_id
        if expected[row_id]:
            assert cfg.model.dim is None and cfg.model.neck.in_channels == 2048
        else:  # no projector: InfoNCE on the whole representation, or DirectCLR's 360 dims
            assert cfg.model.dim == (None if row_id == "none" else 360)


def test_vicreg_without_projector_scores_the_representation(tmp_path):
    """OR Table 8's row: VICReg with model.neck=None, the loss on the pooled representation."""
    run = _rows_have_runs("or_t8", "cifar10")["no_projector"]
    assert "model.neck=None" in run["cfg_options"].split()
    cfg = compose.compose_config(RunSpec("vicreg", "resnet18_cifar", "synthetic", cfg_options=WIDTH + ["model.neck=None"]), tmp_path)
    torch.manual_seed(0)
    model = build.build_model(cfg).train()
    assert not model.with_neck
    views = [torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    ours = model.loss(views, data_samples=[])["loss_ssl"]
    with torch.no_grad():
        r1, r2 = (model.backbone(v)[-1].mean(dim=(2, 3)) for v in views)
        expected = losses.vicreg_loss(r1, r2, 25.0, 25.0, 1.0)
    assert r1.shape == (16, D) and ours.item() == pytest.approx(expected.item(), rel=1e-5)

