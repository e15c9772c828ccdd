"""The Vision Transformer of the OR paper's ViT tables, at CIFAR resolution.

The OR paper trains DINO with ViT-tiny, -small and -base on CIFAR-100 in solo-learn (Table 3).
solo-learn builds those ViTs with timm's ``VisionTransformer`` (solo/backbones/vit/vit.py:
``num_classes=0``, so no head, and timm's defaults otherwise); the representation is what timm
returns then: the CLS token after the final LayerNorm (``global_pool='token'``). This module
rebuilds that network in plain torch, with timm's layer names so that state dicts line up:

- ``patch_embed.proj``: a p x p stride-p Conv2d (with bias) turning the image into
  (img_size / p)^2 tokens of ``embed_dim``;
- a learned CLS token prepended, a learned position embedding added to all 1 + (img_size / p)^2
  tokens;
- ``depth`` pre-norm blocks ``x += attn.proj(MHSA(norm1(x)))``, ``x += mlp.fc2(GELU(mlp.fc1(norm2(x))))``
  with a fused ``attn.qkv`` Linear (bias on), softmax(q k^T / sqrt(head_dim)) v, an MLP of
  ``mlp_ratio * embed_dim`` hidden units and LayerNorms with eps 1e-6;
- a final LayerNorm ``norm``; no dropout, stochastic depth or layer scale (timm's defaults).

Initialization is timm's default ('' mode): position embedding truncated normal (std 0.02), CLS
token normal (std 1e-6), every Linear weight truncated normal (std 0.02) with zero bias,
LayerNorms at weight 1 / bias 0, the patch-embedding Conv2d at PyTorch's default.

Every weight matrix is a Conv2d or Linear module (not ``nn.MultiheadAttention``'s bare
parameters), so the OR penalty (``ortho_suite.regularizers.orthogonality_penalty``) reaches the
patch embedding, each qkv, attention output projection and both MLP layers.

Outputs follow the mmselfsup backbone contract: a tuple with one ``N x embed_dim x 1 x 1`` map per
entry of ``out_indices``, so necks with ``with_avg_pool=True`` and ``features.mean(dim=(2, 3))``
work unchanged. Output ``k`` (1 <= k <= depth, negative counts from the end) is the CLS token
after block ``k``; after the last block it is taken after the final LayerNorm, i.e. it is the
representation. ``feature_stages`` (every block) is what the evaluation's hidden-feature
diagnostics extract: the CLS token after each block (the token the representation is read from;
hidden features of a ViT are therefore not averaged over tokens as a ResNet's maps are).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmselfsup.registry import MODELS

from .precision import backbone_autocast

LAYER_NORM_EPS = 1e-6  # timm's ViT LayerNorm


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (timm's ``Attention``)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(n, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [N, heads, tokens, head_dim]
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(head_dim)) v
        return self.proj(out.transpose(1, 2).reshape(n, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (timm's ``Block`` without dropout, drop path or layer scale)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, img_size: int, patch_size: int, in_channels: int, dim: int) -> None:
        super().__init__()
        self.img_size, self.patch_size = img_size, patch_size
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (self.img_size, self.img_size):
            raise ValueError(f"the ViT is built for {self.img_size}x{self.img_size} images (its "
                             f"position embedding has one entry per patch), got "
                             f"{x.shape[-2]}x{x.shape[-1]}; set model.backbone.img_size")
        return self.proj(x).flatten(2).transpose(1, 2)  # [N, patches, dim]


@MODELS.register_module()
class VisionTransformerCLS(nn.Module):
    """timm's VisionTransformer as solo-learn builds it (no head), returning CLS tokens.

    Args:
        embed_dim, depth, num_heads: token width, number of blocks, attention heads (ViT-tiny
            192 / 12 / 3, ViT-small 384 / 12 / 6, ViT-base 768 / 12 / 12). CPU tests shrink them.
        mlp_ratio: MLP hidden width over ``embed_dim`` (4).
        img_size: side of the (square) input images; patch_size: side of a patch (must divide it).
        in_channels: image channels.
        out_indices: blocks whose CLS token is returned (1..depth; negative counts from the end,
            -1 is the representation). Read at every forward, so evaluation can change it.
    """

    def __init__(self, embed_dim: int = 192, depth: int = 12, num_heads: int = 3,
                 mlp_ratio: float = 4.0, img_size: int = 32, patch_size: int = 4,
                 in_channels: int = 3, out_indices: Sequence[int] = (-1,)) -> None:
        super().__init__()
        if embed_dim < 1 or depth < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"{type(self).__name__} needs embed_dim divisible by num_heads and "
                             f"depth >= 1, got embed_dim={embed_dim}, num_heads={num_heads}, "
                             f"depth={depth}")
        if patch_size < 1 or img_size % patch_size:
            raise ValueError(f"patch_size {patch_size} must divide img_size {img_size}")
        self.embed_dim, self.depth = embed_dim, depth
        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, embed_dim))
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=LAYER_NORM_EPS)
        self.out_indices = out_indices
        self.init_weights()

    @property
    def feature_stages(self) -> tuple[int, ...]:
        """The out_indices of the hidden-feature diagnostics: every block (the last one's output
        is the representation)."""
        return tuple(range(1, self.depth + 1))

    def _blocks_to_return(self) -> set[int]:
        chosen = set()
        for index in self.out_indices:
            block = index + self.depth + 1 if index < 0 else index
            if not 1 <= block <= self.depth:
                raise ValueError(f"out_indices entry {index} is not a block of a depth-{self.depth} "
                                 f"ViT (1..{self.depth}, or negative from the end)")
            chosen.add(block)
        return chosen

    def init_weights(self) -> None:
        """timm's default ViT initialization (mmengine's Runner calls this again: same law)."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        self.patch_embed.proj.reset_parameters()

    @backbone_autocast
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        wanted = self._blocks_to_return()
        tokens = self.patch_embed(x)
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = tokens + self.pos_embed
        outs = []
        for i, block in enumerate(self.blocks, start=1):
            tokens = block(tokens)
            if i in wanted:
                cls = self.norm(tokens[:, 0]) if i == self.depth else tokens[:, 0]
                outs.append(cls[:, :, None, None])
        return tuple(outs)
