"""The ViTs of the OR paper's Table 3 (timm's ViT as solo-learn builds it, 32 px, patch 4).

The forward pass is checked against a float64 transformer written here from the ViT formulas
(patches by unfolding, attention by explicit softmax), the parameter counts against the
architecture's closed form, the OR penalty against the list of weight matrices the architecture
has, and the whole path (pretrain, online monitor, evaluate) on a tiny ViT.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ortho_suite import build
from ortho_suite.cli import main
from ortho_suite.errors import UsageError
from ortho_suite.models import VisionTransformerCLS, backbone_feature_dim
from ortho_suite.regularizers import regularized_weights
from ortho_suite.runs import SUMMARY_FILE, RunSpec, load_finished_run
from ortho_suite.train import compose

# a 16-wide, 2-block, 2-head ViT: every test below runs it in well under a second per step
TINY_VIT = ["model.backbone.embed_dim=16", "model.backbone.depth=2", "model.backbone.num_heads=2"]
TINY_RUN = TINY_VIT + ["model.neck.hid_channels=32", "model.neck.out_channels=16",
                       "train_dataloader.batch_size=16", "train_dataloader.dataset.num_samples=32"]


def _tiny(depth: int = 3, out_indices=(-1,)) -> VisionTransformerCLS:
    torch.manual_seed(0)
    return VisionTransformerCLS(embed_dim=16, depth=depth, num_heads=2, img_size=32, patch_size=4,
                                out_indices=out_indices).eval()


def _reference_forward(net: VisionTransformerCLS, images: torch.Tensor, heads: int,
                       patch: int) -> list[torch.Tensor]:
    """CLS token after every block (the last after the final LayerNorm), in float64, from the
    ViT equations: tokens = [cls; patches W_e + b_e] + pos; per block
    x += (softmax(q k^T / sqrt(d_h)) v) W_o + b_o with q, k, v = LN1(x) W_qkv + b_qkv split per
    head, then x += GELU(LN2(x) W_1 + b_1) W_2 + b_2; LayerNorm eps 1e-6."""
    p = {k: v.detach().double() for k, v in net.state_dict().items()}
    x = images.double()
    n = len(x)
    cols = F.unfold(x, kernel_size=patch, stride=patch).transpose(1, 2)  # [N, patches, 3*p*p]
    w_e = p["patch_embed.proj.weight"].reshape(p["patch_embed.proj.weight"].shape[0], -1)
    tokens = cols @ w_e.T + p["patch_embed.proj.bias"]
    dim = tokens.shape[-1]
    x = torch.cat([p["cls_token"].expand(n, 1, dim), tokens], dim=1) + p["pos_embed"]

    def layer_norm(t, name):
        mu = t.mean(-1, keepdim=True)
        var = ((t - mu) ** 2).mean(-1, keepdim=True)
        return (t - mu) / torch.sqrt(var + 1e-6) * p[f"{name}.weight"] + p[f"{name}.bias"]

    outs = []
    depth = len(net.blocks)
    for i in range(depth):
        b = f"blocks.{i}"
        h = layer_norm(x, f"{b}.norm1") @ p[f"{b}.attn.qkv.weight"].T + p[f"{b}.attn.qkv.bias"]
        q, k, v = h.split(dim, dim=-1)
        head_dim = dim // heads
        per_head = []
        for j in range(heads):
            sl = slice(j * head_dim, (j + 1) * head_dim)
            scores = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(head_dim)
            per_head.append(torch.softmax(scores, dim=-1) @ v[..., sl])
        x = x + torch.cat(per_head, -1) @ p[f"{b}.attn.proj.weight"].T + p[f"{b}.attn.proj.bias"]
        h = layer_norm(x, f"{b}.norm2") @ p[f"{b}.mlp.fc1.weight"].T + p[f"{b}.mlp.fc1.bias"]
        h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))  # exact GELU
        x = x + h @ p[f"{b}.mlp.fc2.weight"].T + p[f"{b}.mlp.fc2.bias"]
        outs.append(layer_norm(x[:, 0], "norm") if i == depth - 1 else x[:, 0])
    return outs


def _vit_param_count(dim: int, depth: int, patch: int, image: int = 32, mlp_ratio: int = 4) -> int:
    """Closed form: patch conv (weights + bias), CLS token, one position per token, then per block
    two LayerNorms (2 dim each), qkv (3 dim^2 + 3 dim), output projection (dim^2 + dim), MLP
    (2 mlp_ratio dim^2 + mlp_ratio dim + dim); the final LayerNorm."""
    tokens = (image // patch) ** 2 + 1
    embed = 3 * patch * patch * dim + dim + dim + tokens * dim
    block = 4 * dim + (3 * dim * dim + 3 * dim) + (dim * dim + dim) + (
        2 * mlp_ratio * dim * dim + mlp_ratio * dim + dim)
    return embed + depth * block + 2 * dim


def test_outputs_are_cls_maps_and_match_the_transformer_equations():
    net = _tiny(depth=3, out_indices=(1, 2, 3))
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        outs = net(images)
    assert [tuple(o.shape) for o in outs] == [(4, 16, 1, 1)] * 3
    reference = _reference_forward(net, images, heads=2, patch=4)
    for ours, ref in zip(outs, reference):
        torch.testing.assert_close(ours.flatten(1).double(), ref, rtol=1e-4, atol=1e-5)
    # the default output is the representation alone: the last block's normalized CLS token
    net.out_indices = [-1]
    with torch.no_grad():
        (rep,) = net(images)
    torch.testing.assert_close(rep.flatten(1).double(), reference[-1], rtol=1e-4, atol=1e-5)
    assert net.feature_stages == (1, 2, 3)
    assert backbone_feature_dim(dict(type="VisionTransformerCLS", embed_dim=16)) == 16


def test_rejects_wrong_image_size_and_indices():
    net = _tiny(depth=2)
    with pytest.raises(ValueError, match="built for 32x32 images"):
        net(torch.randn(1, 3, 64, 64))
    net.out_indices = [3]
    with pytest.raises(ValueError, match="not a block of a depth-2 ViT"):
        net(torch.randn(1, 3, 32, 32))


@pytest.mark.parametrize("name,dim,heads", [("vit_tiny", 192, 3), ("vit_small", 384, 6)])
def test_full_size_parameter_count_and_timm_init(name, dim, heads, tmp_path):
    cfg = compose.compose_config(RunSpec("simclr", name, "synthetic"), tmp_path)
    assert backbone_feature_dim(cfg.model.backbone) == dim == cfg.model.neck.in_channels
    torch.manual_seed(0)
    net = VisionTransformerCLS(**{k: v for k, v in cfg.model.backbone.items() if k != "type"})
    assert sum(p.numel() for p in net.parameters()) == _vit_param_count(dim, depth=12, patch=4)
    assert len(net.blocks) == 12 and net.blocks[0].attn.num_heads == heads
    # timm's default init: Linear weights N(0, 0.02) truncated, zero biases, CLS token ~1e-6
    linear = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, torch.nn.Linear)])
    assert float(linear.std()) == pytest.approx(0.02, rel=0.02)
    assert all(float(m.bias.abs().max()) == 0 for m in net.modules() if isinstance(m, torch.nn.Linear))
    assert float(net.pos_embed.std()) == pytest.approx(0.02, rel=0.05)
    assert float(net.cls_token.abs().max()) < 1e-5


def test_or_penalty_covers_exactly_the_vit_weight_matrices(tmp_path):
    cfg = compose.compose_config(RunSpec("simclr", "vit_tiny", "synthetic", reg="so", cfg_options=TINY_VIT + ["model.neck.hid_channels=32",
                                                          "model.neck.out_channels=16"]), tmp_path)
    assert cfg.model.encoder_regularizer.gamma == 1e-5  # the recipe's ViT-tiny SO value
    torch.manual_seed(0)
    model = build.build_model(cfg)
    # the weight matrices of a depth-2 ViT: patch embedding conv, then per block qkv, attention
    # output projection and the two MLP layers
    expected = ["patch_embed.proj.weight"] + [
        f"blocks.{i}.{layer}.weight" for i in range(2)
        for layer in ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")]
    assert sorted(name for name, _ in regularized_weights(model.backbone)) == sorted(expected)
    # the other >= 2-D backbone parameters are the CLS token and position embedding, not weights
    state = model.backbone.state_dict()
    others = {k for k, v in state.items() if v.dim() >= 2} - set(expected)
    assert others == {"cls_token", "pos_embed"}

    def reference_so(weight: torch.Tensor) -> float:
        w = weight.detach().double().numpy()
        w = w.reshape(w.shape[0], -1).T  # W in R^{input x output}
        gram = w.T @ w if w.shape[0] > w.shape[1] else w @ w.T
        return float(np.square(gram - np.eye(len(gram))).sum())

    penalty = model.encoder_penalty()
    assert float(penalty) == pytest.approx(sum(reference_so(state[k]) for k in expected), rel=1e-5)
    # nothing outside the backbone's weight matrices counts: the projector, the LayerNorms and
    # the tokens can change freely, any weight matrix cannot
    with torch.no_grad():
        for module in model.neck.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.mul_(3.0)
        model.backbone.blocks[0].norm1.weight.mul_(3.0)
        model.backbone.cls_token.add_(1.0)
        model.backbone.pos_embed.add_(1.0)
    assert float(model.encoder_penalty()) == pytest.approx(float(penalty), rel=1e-6)
    with torch.no_grad():
        model.backbone.blocks[1].mlp.fc2.weight.mul_(3.0)
    assert float(model.encoder_penalty()) != pytest.approx(float(penalty), rel=1e-3)


def test_two_view_embedding_without_projector_is_the_cls_token(tmp_path):
    """DirectCLR (no projector) embeds with ``features[-1].mean(dim=(2, 3))``: for a ViT that is
    the representation itself."""
    cfg = compose.compose_config(RunSpec("directclr", "vit_tiny", "synthetic", cfg_options=TINY_VIT + ["model.dim=8"]), tmp_path)
    torch.manual_seed(0)
    model = build.build_model(cfg).eval()
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.embed(images), model.backbone(images)[-1].flatten(1))


def test_vit_image_and_patch_size_must_fit_the_dataset(tmp_path):
    with pytest.raises(UsageError, match="built for 32px images.*model.backbone.img_size=224"):
        compose.compose_config(RunSpec("simclr", "vit_tiny", "imagenet100"), tmp_path)
    with pytest.raises(UsageError, match="patch_size=5 does not divide"):
        compose.compose_config(RunSpec("simclr", "vit_tiny", "synthetic", cfg_options=["model.backbone.patch_size=5"]), tmp_path)


def test_pretrain_and_evaluate_a_tiny_vit(tmp_path, capsys):
    """`ortho-suite pretrain` (SimCLR + SO, online monitor on) and `evaluate` end to end."""
    run, out = tmp_path / "run", tmp_path / "eval"
    code = main(["pretrain", "--method", "simclr", "--reg", "so", "--backbone", "vit_tiny",
                 "--dataset", "synthetic", "--work-dir", str(run), "--epochs", "1",
                 "--cfg-options", *TINY_RUN])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((run / SUMMARY_FILE).read_text())
    assert summary["status"] == "finished" and summary["iterations"] == 2
    assert all(row["reg_penalty"] > 0 and math.isfinite(row["loss"]) for row in summary["train_log"])
    assert 1 <= summary["monitor"][0]["effective_rank"] <= 16

    assert main(["evaluate", "--work-dir", str(run), "--out", str(out), "--probe-epochs", "2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["features"]["representation_dim"] == 16
    assert set(metrics["hidden"]) == {"stage1", "stage2"}  # the CLS token after each block
    assert len(metrics["weights"]) == 1 + 4 * 2 and metrics["weights_mean_so_penalty"] > 0
    assert 0 <= metrics["knn_cosine_k200_top1"] <= 100
    assert 0 <= metrics["linear_probe"]["top1"] <= 100
    for name in ("weight_spectra", "feature_spectra", "filter_correlation", "log_spectrum"):
        assert (out / "plots" / f"{name}.png").is_file()

    # the cached representation is the backbone's own output (normalized CLS token of the last
    # block), not some other token or stage

    cfg, _, checkpoint = load_finished_run(run)
    model = build.load_frozen_model(cfg, checkpoint, torch.device("cpu"))
    cached = torch.load(out / "features.pt", weights_only=False)["test"]["representation"]
    from mmengine.dataset import default_collate

    dataset = build.feature_dataset(cfg, cfg.feature_data.test_split)
    views, _ = model.data_preprocessor(default_collate([dataset[i] for i in range(8)]), training=False)
    with torch.no_grad():
        (rep,) = model.backbone(views[0])
    torch.testing.assert_close(cached[:8], rep.flatten(1), rtol=1e-5, atol=1e-6)
