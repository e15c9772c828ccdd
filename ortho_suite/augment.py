"""Batched SSL view augmentations in pure torch, run on the training device.

One call augments a whole batch, each image with its own random parameters, with the operations
and parameter distributions of torchvision's transforms as the SSL recipes use them (solo-learn,
BYOL, Barlow Twins, DirectCLR, INTL): RandomResizedCrop, ColorJitter (random order of brightness,
contrast, saturation, hue), RandomGrayscale, Gaussian blur, Solarization, horizontal flip, in
solo-learn's order. Working on the device removes the per-image CPU work that bounds SSL data
loading; the same code runs on CPU.

Images are float tensors ``[N, 3, H, W]`` in [0, 1]. Known deviations from the per-image
PIL/torchvision originals (see each function): bicubic resampling uses torch's kernel
(a = -0.75; Pillow's bicubic uses a = -0.5) without antialiasing, which only matters when a crop is
*downscaled* (never for CIFAR-size crops); the blur is an exact truncated Gaussian (+-3 sigma)
where solo-learn's PIL blur approximates one with box filters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale (ITU-R 601-2 luma)


@dataclass(frozen=True)
class ViewRecipe:
    """Parameters of one augmented view; probabilities are per image.

    ``crop=False`` skips the crop and flip (done per image on CPU for variable-size datasets such
    as ImageNet, whose images cannot be batched before cropping).
    """

    size: int = 32
    crop: bool = True
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    interpolation: str = "bicubic"
    hflip: float = 0.5
    jitter: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1
    grayscale: float = 0.2
    blur: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize: float = 0.0
    solarize_threshold: float = 128 / 255  # PIL ImageOps.solarize: values >= 128 are inverted


def _uniform(n: int, low: float, high: float, generator, device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=device) * (high - low) + low


def _bernoulli(n: int, p: float, generator, device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=device) < p


def sample_crop_boxes(n: int, height: int, width: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                      generator=None, device="cpu", attempts: int = 10) -> torch.Tensor:
    """Integer boxes ``[n, 4]`` = (top, left, h, w) drawn as torchvision's
    ``RandomResizedCrop.get_params``: up to 10 attempts of area ~ U(scale) * H * W and log aspect
    ~ U(log ratio), the first that fits wins; otherwise a centred crop with the ratio clamped."""
    area = height * width
    target = area * _uniform(n * attempts, *scale, generator, device).view(n, attempts)
    log_r = _uniform(n * attempts, math.log(ratio[0]), math.log(ratio[1]), generator, device)
    aspect = torch.exp(log_r).view(n, attempts)
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.float().argmax(dim=1)
    found = fits.any(dim=1)
    rows = torch.arange(n, device=device)
    h, w = h[rows, first], w[rows, first]
    # fallback (no attempt fit): the whole image, or a centred crop at the nearest allowed ratio
    in_ratio = width / height
    if in_ratio < ratio[0]:
        fb_w, fb_h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        fb_h, fb_w = height, round(height * ratio[1])
    else:
        fb_w, fb_h = width, height
    h = torch.where(found, h, torch.full_like(h, fb_h))
    w = torch.where(found, w, torch.full_like(w, fb_w))
    u_top, u_left = (torch.rand(n, generator=generator, device=device) for _ in range(2))
    top = torch.where(found, torch.floor(u_top * (height - h + 1)), torch.full_like(h, (height - fb_h) // 2))
    left = torch.where(found, torch.floor(u_left * (width - w + 1)), torch.full_like(w, (width - fb_w) // 2))
    return torch.stack([top, left, h, w], dim=1).long()


def resized_crop(images: torch.Tensor, boxes: torch.Tensor, size: int,
                 interpolation: str = "bicubic") -> torch.Tensor:
    """Crop each image to its box and resize to ``size x size`` in one ``grid_sample``.

    Sampling positions are those of ``F.interpolate(..., align_corners=False)`` applied to the
    integer crop, clamped to the crop like interpolate clamps to its input: bilinear output equals
    torchvision's tensor ``resized_crop`` (no antialiasing, so for crops that are not downscaled).
    Bicubic taps next to the crop's border read the image's real neighbouring pixels where
    crop-then-resize repeats the crop's edge pixel. Bicubic output is clamped to [0, 1], as a
    uint8 image would be.
    """
    n, _, height, width = images.shape
    top, left, h, w = (boxes[:, k].to(images.dtype).view(n, 1) for k in range(4))
    steps = (torch.arange(size, device=images.device, dtype=images.dtype) + 0.5) / size
    px = torch.minimum(torch.maximum(left + steps.view(1, size) * w - 0.5, left), left + w - 1)
    py = torch.minimum(torch.maximum(top + steps.view(1, size) * h - 0.5, top), top + h - 1)
    xs, ys = (2 * px + 1) / width - 1, (2 * py + 1) / height - 1   # grid_sample's [-1, 1]
    grid = torch.stack([xs.view(n, 1, size).expand(n, size, size),
                        ys.view(n, size, 1).expand(n, size, size)], dim=-1)
    out = F.grid_sample(images, grid, mode=interpolation, padding_mode="border", align_corners=False)
    return out.clamp_(0.0, 1.0) if interpolation == "bicubic" else out


def rgb_to_grayscale(images: torch.Tensor) -> torch.Tensor:
    """Luma ``[N, 1, H, W]`` with torchvision's weights."""
    r, g, b = images.unbind(dim=1)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(1)


def _per_image(factor: torch.Tensor) -> torch.Tensor:
    return factor.view(-1, 1, 1, 1)


def adjust_brightness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (images * _per_image(factor)).clamp(0.0, 1.0)


def adjust_contrast(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the image's mean gray level (torchvision's definition)."""
    mean = rgb_to_grayscale(images).mean(dim=(-3, -2, -1), keepdim=True)
    f = _per_image(factor)
    return (f * images + (1 - f) * mean).clamp(0.0, 1.0)


def adjust_saturation(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the image's own grayscale version."""
    f = _per_image(factor)
    return (f * images + (1 - f) * rgb_to_grayscale(images)).clamp(0.0, 1.0)


def rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    r, g, b = images.unbind(dim=1)
    maxc, _ = images.max(dim=1)
    minc, _ = images.min(dim=1)
    chroma = maxc - minc
    gray = chroma == 0
    s = chroma / torch.where(maxc == 0, torch.ones_like(maxc), maxc)
    div = torch.where(gray, torch.ones_like(chroma), chroma)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    h = torch.where(maxc == r, bc - gc,
                    torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(gray, torch.zeros_like(h), torch.remainder(h / 6.0, 1.0))
    return torch.stack([h, s, maxc], dim=1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    h, s, v = hsv.unbind(dim=1)
    h6 = h * 6.0
    i = torch.floor(h6)
    f = h6 - i
    i = i.long() % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    # sector i -> (r, g, b): 0 (v,t,p) 1 (q,v,p) 2 (p,v,t) 3 (p,q,v) 4 (t,p,v) 5 (v,p,q)
    table = torch.stack([torch.stack(c, dim=0) for c in
                         [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]], dim=0)
    index = i.unsqueeze(0).unsqueeze(0).expand(1, 3, *i.shape)
    return table.gather(0, index).squeeze(0).movedim(0, 1)


def adjust_hue(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by ``factor`` turns (in [-0.5, 0.5]) in HSV space."""
    hsv = rgb_to_hsv(images)
    hue = torch.remainder(hsv[:, 0] + factor.view(-1, 1, 1), 1.0)
    return hsv_to_rgb(torch.stack([hue, hsv[:, 1], hsv[:, 2]], dim=1)).clamp(0.0, 1.0)


def color_jitter(images: torch.Tensor, brightness: float, contrast: float, saturation: float,
                 hue: float, generator=None) -> torch.Tensor:
    """torchvision ColorJitter per image: factors ~ U[max(0, 1 - x), 1 + x] (hue ~ U[-h, h]) and
    the four adjustments in an independent random order for each image."""
    n, device = images.shape[0], images.device
    ops = []
    if brightness > 0:
        ops.append((adjust_brightness, _uniform(n, max(0.0, 1 - brightness), 1 + brightness, generator, device)))
    if contrast > 0:
        ops.append((adjust_contrast, _uniform(n, max(0.0, 1 - contrast), 1 + contrast, generator, device)))
    if saturation > 0:
        ops.append((adjust_saturation, _uniform(n, max(0.0, 1 - saturation), 1 + saturation, generator, device)))
    if hue > 0:
        ops.append((adjust_hue, _uniform(n, -hue, hue, generator, device)))
    if not ops:
        return images
    order = torch.argsort(torch.rand(n, len(ops), generator=generator, device=device), dim=1)
    out = images.clone()
    for step in range(len(ops)):
        for k, (op, factor) in enumerate(ops):
            idx = torch.nonzero(order[:, step] == k, as_tuple=True)[0]
            if idx.numel():
                out[idx] = op(out[idx], factor[idx])
    return out


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, max_sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, one sigma per image, kernel truncated at +-3 max_sigma,
    reflect padding (as torchvision's gaussian_blur)."""
    n, c, height, width = images.shape
    radius = max(1, math.ceil(3 * max_sigma))
    radius = min(radius, height - 1, width - 1)
    x = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (x.view(1, -1) / sigma.view(-1, 1)) ** 2)
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # [n*c, k]
    flat = images.reshape(1, n * c, height, width)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel.view(n * c, 1, 1, -1), groups=n * c)
    flat = F.conv2d(flat, kernel.view(n * c, 1, -1, 1), groups=n * c)
    return flat.view(n, c, height, width)


def solarize(images: torch.Tensor, threshold: float) -> torch.Tensor:
    return torch.where(images >= threshold, 1.0 - images, images)


def _apply_to(images: torch.Tensor, mask: torch.Tensor, fn) -> torch.Tensor:
    idx = torch.nonzero(mask, as_tuple=True)[0]
    if idx.numel() == 0:
        return images
    out = images.clone()
    out[idx] = fn(images[idx], idx)
    return out


def augment_view(images: torch.Tensor, recipe: ViewRecipe, generator=None) -> torch.Tensor:
    """One augmented view of every image: float ``[N, 3, H, W]`` in [0, 1] -> ``[N, 3, s, s]``."""
    n, _, height, width = images.shape
    device = images.device
    if recipe.crop:
        boxes = sample_crop_boxes(n, height, width, recipe.crop_scale, recipe.crop_ratio,
                                  generator, device)
        images = resized_crop(images, boxes, recipe.size, recipe.interpolation)
    if recipe.jitter > 0:
        mask = _bernoulli(n, recipe.jitter, generator, device)
        images = _apply_to(images, mask, lambda x, _: color_jitter(
            x, recipe.brightness, recipe.contrast, recipe.saturation, recipe.hue, generator))
    if recipe.grayscale > 0:
        mask = _bernoulli(n, recipe.grayscale, generator, device)
        images = _apply_to(images, mask, lambda x, _: rgb_to_grayscale(x).expand_as(x))
    if recipe.blur > 0:
        mask = _bernoulli(n, recipe.blur, generator, device)
        sigma = _uniform(n, *recipe.blur_sigma, generator, device)
        images = _apply_to(images, mask, lambda x, idx: gaussian_blur(x, sigma[idx], recipe.blur_sigma[1]))
    if recipe.solarize > 0:
        mask = _bernoulli(n, recipe.solarize, generator, device)
        images = _apply_to(images, mask, lambda x, _: solarize(x, recipe.solarize_threshold))
    if recipe.crop and recipe.hflip > 0:
        mask = _bernoulli(n, recipe.hflip, generator, device).view(n, 1, 1, 1)
        images = torch.where(mask, images.flip(-1), images)
    return images
