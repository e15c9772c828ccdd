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
    """HSV ``[N, 3, H, W]`` (hue in turns) as torchvision's ``_rgb2hsv``; the hue of a gray pixel
    is 0."""
    r, g, b = images.unbind(dim=1)
    maxc, minc = images.amax(dim=1), images.amin(dim=1)
    chroma = maxc - minc
    gray = chroma == 0
    s = chroma / torch.where(maxc == 0, 1.0, maxc)
    div = torch.where(gray, 1.0, chroma)
    h = torch.where(maxc == r, (g - b) / div,
                    torch.where(maxc == g, 2.0 + (b - r) / div, 4.0 + (r - g) / div))
    h = torch.where(gray, 0.0, torch.remainder(h / 6.0, 1.0))
    return torch.stack([h, s, maxc], dim=1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """RGB from HSV by the closed form of the piecewise-linear sector table (the same function as
    torchvision's ``_hsv2rgb``): channel c = v - v s clamp(min(k, 4 - k), 0, 1) with
    k = (offset_c + 6 h) mod 6; one pass over the three channels instead of a 6-way table."""
    h, s, v = hsv[:, 0:1], hsv[:, 1:2], hsv[:, 2:3]
    # offsets 5, 3, 1 (red, green, blue) made on the device: a tensor from host values would be a
    # blocking copy each call
    offsets = torch.arange(5.0, 0.0, -2.0, dtype=hsv.dtype, device=hsv.device).view(1, 3, 1, 1)
    k = torch.remainder(offsets + 6.0 * h, 6.0)
    return v - v * s * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def adjust_hue(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by ``factor`` turns (in [-0.5, 0.5]) in HSV space."""
    hsv = rgb_to_hsv(images)
    hue = torch.remainder(hsv[:, 0] + factor.view(-1, 1, 1), 1.0)
    return hsv_to_rgb(torch.stack([hue, hsv[:, 1], hsv[:, 2]], dim=1)).clamp(0.0, 1.0)


COLOR_OPS = ("brightness", "contrast", "saturation", "hue")  # torchvision ColorJitter's four


def _color_op(name: str):
    return {"brightness": adjust_brightness, "contrast": adjust_contrast,
            "saturation": adjust_saturation, "hue": adjust_hue}[name]


def jitter_ranges(brightness: float, contrast: float, saturation: float,
                  hue: float) -> list[tuple[str, float, float]]:
    """The factor range of each enabled colour op, as torchvision's ColorJitter: U[max(0, 1 - x),
    1 + x] for brightness, contrast and saturation, U[-h, h] for hue; a strength of 0 disables it."""
    strengths = dict(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue)
    return [(name, -x, x) if name == "hue" else (name, max(0.0, 1 - x), 1 + x)
            for name, x in strengths.items() if x > 0]


def color_jitter(images: torch.Tensor, brightness: float, contrast: float, saturation: float,
                 hue: float, generator=None, apply: torch.Tensor | None = None) -> torch.Tensor:
    """torchvision ColorJitter per image: factors ~ :func:`jitter_ranges` and the enabled
    adjustments in an independent random order for each image; ``apply`` (bool ``[N]``, default
    all) selects the images that are jittered, the others are returned unchanged.

    Without host synchronisation: every draw has a fixed size (one factor per image and op, one
    order per image, whether or not the image is jittered), and at each of the k steps each op is
    computed for the whole batch and kept, with ``torch.where``, for the images whose order puts it
    at that step. The ops are per image, so this equals applying each op to the selected images only
    (``tests/test_augment.py`` holds that indexed computation and checks bitwise equality); it costs
    k evaluations of each op per image instead of one.
    """
    n, device = images.shape[0], images.device
    ops = [(_color_op(name), _uniform(n, low, high, generator, device))
           for name, low, high in jitter_ranges(brightness, contrast, saturation, hue)]
    if not ops:
        return images
    order = torch.argsort(torch.rand(n, len(ops), generator=generator, device=device), dim=1)
    if apply is None:
        apply = torch.ones(n, dtype=torch.bool, device=device)
    out = images
    for step in range(len(ops)):
        for k, (op, factor) in enumerate(ops):
            chosen = (apply & (order[:, step] == k)).view(n, 1, 1, 1)
            out = torch.where(chosen, op(out, factor), out)
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


def _where(mask: torch.Tensor, changed: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per image: ``changed`` where ``mask`` (bool ``[N]``) holds, else ``images``. Computing the
    op for every image and selecting keeps the step free of host synchronisation (indexing by
    ``nonzero(mask)`` would make the host wait for the device each time)."""
    return torch.where(mask.view(-1, 1, 1, 1), changed, images)


def augment_view(images: torch.Tensor, recipe: ViewRecipe, generator=None) -> torch.Tensor:
    """One augmented view of every image: float ``[N, 3, H, W]`` in [0, 1] -> ``[N, 3, s, s]``.

    Every random draw has a size fixed by ``N`` and the recipe, so the call never makes the host
    wait for the device (nothing is indexed by a data-dependent count)."""
    n, _, height, width = images.shape
    device = images.device
    if recipe.crop:
        boxes = sample_crop_boxes(n, height, width, recipe.crop_scale, recipe.crop_ratio,
                                  generator, device)
        images = resized_crop(images, boxes, recipe.size, recipe.interpolation)
    if recipe.jitter > 0:
        mask = _bernoulli(n, recipe.jitter, generator, device)
        images = color_jitter(images, recipe.brightness, recipe.contrast, recipe.saturation,
                              recipe.hue, generator, apply=mask)
    if recipe.grayscale > 0:
        mask = _bernoulli(n, recipe.grayscale, generator, device)
        images = _where(mask, rgb_to_grayscale(images).expand_as(images), images)
    if recipe.blur > 0:
        mask = _bernoulli(n, recipe.blur, generator, device)
        sigma = _uniform(n, *recipe.blur_sigma, generator, device)
        images = _where(mask, gaussian_blur(images, sigma, recipe.blur_sigma[1]), images)
    if recipe.solarize > 0:
        mask = _bernoulli(n, recipe.solarize, generator, device)
        images = _where(mask, solarize(images, recipe.solarize_threshold), images)
    if recipe.crop and recipe.hflip > 0:
        mask = _bernoulli(n, recipe.hflip, generator, device)
        images = _where(mask, images.flip(-1), images)
    return images
