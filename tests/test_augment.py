"""Batched augmentations against torchvision's per-image functions (an independent
implementation), and the statistics of the random parameters."""
from __future__ import annotations

import pytest
import torch
from torchvision.transforms import RandomResizedCrop
from torchvision.transforms.v2 import functional as TF

from ortho_suite import augment as A
from ortho_suite.models import SSLViewsPreprocessor

N = 6


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(N, 3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _per_image(ref, images, params):
    return torch.stack([ref(images[i], float(params[i])) for i in range(len(images))])


FACTORS = torch.tensor([0.0, 0.6, 0.9, 1.0, 1.3, 1.8], dtype=torch.float64)


@pytest.mark.parametrize("ours,ref", [(A.adjust_brightness, TF.adjust_brightness),
                                      (A.adjust_contrast, TF.adjust_contrast),
                                      (A.adjust_saturation, TF.adjust_saturation)])
def test_colour_adjustments_match_torchvision(images, ours, ref):
    torch.testing.assert_close(ours(images, FACTORS), _per_image(ref, images, FACTORS),
                               rtol=0, atol=1e-12)


def test_hue_matches_torchvision(images):
    hues = torch.tensor([-0.5, -0.2, 0.0, 0.05, 0.3, 0.5], dtype=torch.float64)
    torch.testing.assert_close(A.adjust_hue(images, hues), _per_image(TF.adjust_hue, images, hues),
                               rtol=0, atol=1e-5)


def test_hsv_round_trip(images):
    torch.testing.assert_close(A.hsv_to_rgb(A.rgb_to_hsv(images)), images, rtol=0, atol=1e-12)


def test_grayscale_and_solarize_match_torchvision(images):
    torch.testing.assert_close(A.rgb_to_grayscale(images), TF.rgb_to_grayscale(images), rtol=0, atol=1e-12)
    torch.testing.assert_close(A.solarize(images, 0.5), TF.solarize(images, 0.5), rtol=0, atol=0)


def test_blur_matches_torchvision_per_sigma(images):
    sigmas = torch.tensor([0.1, 0.5, 0.9, 1.3, 1.7, 2.0], dtype=torch.float64)
    ours = A.gaussian_blur(images, sigmas, max_sigma=2.0)
    ref = torch.stack([TF.gaussian_blur(images[i], [13, 13], [float(s), float(s)])
                       for i, s in enumerate(sigmas)])
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


BOXES = torch.tensor([[0, 0, 32, 32], [3, 5, 10, 20], [10, 2, 22, 13], [0, 0, 8, 8],
                      [31, 31, 1, 1], [5, 0, 27, 30]])


def test_bilinear_resized_crop_matches_torchvision(images):
    ref = torch.stack([TF.resized_crop(images[i], *BOXES[i].tolist(), [32, 32],
                                       interpolation=TF.InterpolationMode.BILINEAR, antialias=False)
                       for i in range(N)])
    torch.testing.assert_close(A.resized_crop(images, BOXES, 32, "bilinear"), ref, rtol=0, atol=1e-12)


def test_bicubic_resized_crop_matches_torchvision_away_from_crop_border(images):
    ours = A.resized_crop(images, BOXES, 32, "bicubic")
    ref = torch.stack([TF.resized_crop(images[i], *BOXES[i].tolist(), [32, 32],
                                       interpolation=TF.InterpolationMode.BICUBIC, antialias=False)
                       for i in range(N)]).clamp(0, 1)
    torch.testing.assert_close(ours[0], ref[0], rtol=0, atol=1e-12)  # whole image: identical
    torch.testing.assert_close(ours[2, :, 6:-6, 6:-6], ref[2, :, 6:-6, 6:-6], rtol=0, atol=1e-12)


def test_crop_boxes_follow_torchvision_distribution():
    n = 20000
    ours = A.sample_crop_boxes(n, 32, 32, generator=torch.Generator().manual_seed(1)).double()
    torch.manual_seed(1)
    ref = torch.tensor([RandomResizedCrop.get_params(torch.empty(3, 32, 32), (0.08, 1.0), (3 / 4, 4 / 3))
                        for _ in range(n)], dtype=torch.float64)
    assert (ours[:, 0] + ours[:, 2] <= 32).all() and (ours[:, 1] + ours[:, 3] <= 32).all()
    assert (ours >= 0).all() and (ours[:, 2:] >= 1).all()
    for col in range(4):  # top, left, height, width: same means and spreads
        assert ours[:, col].mean().item() == pytest.approx(ref[:, col].mean().item(), abs=0.25)
        assert ours[:, col].std().item() == pytest.approx(ref[:, col].std().item(), rel=0.05)
    area = lambda b: (b[:, 2] * b[:, 3] / 1024)  # noqa: E731
    assert area(ours).mean().item() == pytest.approx(area(ref).mean().item(), abs=0.01)


def test_crop_fallback_is_a_centred_crop():
    # aspect 4:1 image, ratio forced to 1: no attempt at 100% area can fit -> centred square
    boxes = A.sample_crop_boxes(5, 8, 32, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert boxes.tolist() == [[0, 12, 8, 8]] * 5


def _frequency(mask: torch.Tensor) -> float:
    return mask.double().mean().item()


def test_view_probabilities_are_per_image():
    x = torch.rand(4000, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(3)
    identity = dict(size=8, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), hflip=0.0, jitter=0.0,
                    grayscale=0.0, blur=0.0, solarize=0.0, interpolation="bilinear")
    assert torch.allclose(A.augment_view(x, A.ViewRecipe(**identity), g), x, atol=1e-6)
    gray = A.augment_view(x, A.ViewRecipe(**{**identity, "grayscale": 0.2}), g)
    assert _frequency((gray[:, 0] == gray[:, 1]).flatten(1).all(1)) == pytest.approx(0.2, abs=0.03)
    flipped = A.augment_view(x, A.ViewRecipe(**{**identity, "hflip": 0.5}), g)
    assert _frequency(~torch.isclose(flipped, x, atol=1e-6).flatten(1).all(1)) == pytest.approx(0.5, abs=0.03)
    sol = A.augment_view(x, A.ViewRecipe(**{**identity, "solarize": 0.2}), g)
    assert _frequency(~torch.isclose(sol, x, atol=1e-6).flatten(1).all(1)) == pytest.approx(0.2, abs=0.03)
    jit = A.augment_view(x, A.ViewRecipe(**{**identity, "jitter": 0.8}), g)
    assert _frequency(~torch.isclose(jit, x, atol=1e-6).flatten(1).all(1)) == pytest.approx(0.8, abs=0.03)


def test_brightness_only_jitter_scales_within_range():
    x = torch.full((500, 3, 4, 4), 0.5)
    out = A.color_jitter(x, brightness=0.4, contrast=0, saturation=0, hue=0,
                         generator=torch.Generator().manual_seed(4))
    ratio = out[:, 0, 0, 0] / 0.5
    assert ratio.min() >= 0.6 - 1e-6 and ratio.max() <= 1.4 + 1e-6 and ratio.std() > 0.15


def test_augmented_views_stay_in_range_and_size():
    x = torch.rand(16, 3, 32, 32)
    recipe = A.ViewRecipe(size=24, jitter=1.0, brightness=0.8, contrast=0.8, saturation=0.8,
                          hue=0.2, grayscale=0.5, blur=0.5, solarize=0.5)
    out = A.augment_view(x, recipe, torch.Generator().manual_seed(5))
    assert out.shape == (16, 3, 24, 24) and out.min() >= 0 and out.max() <= 1


def test_preprocessor_makes_normalized_views_only_in_training():
    pre = SSLViewsPreprocessor(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
                               views=[dict(size=16), dict(size=16, solarize=1.0)])
    batch = {"inputs": [torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)], "data_samples": []}
    views, _ = pre(batch, training=True)
    assert len(views) == 2 and views[0].shape == (4, 3, 16, 16) and views[0].dtype == torch.float32
    plain, _ = pre(batch, training=False)
    expected = (batch["inputs"][0].float() / 255 - 0.5) / 0.25
    assert len(plain) == 1 and torch.allclose(plain[0], expected)
    with pytest.raises(ValueError, match="3 views per sample"):
        pre({"inputs": [batch["inputs"][0]] * 3, "data_samples": []}, training=True)


def _indexed_view(images: torch.Tensor, recipe: A.ViewRecipe, g: torch.Generator) -> torch.Tensor:
    """The view computed only on the images each op selects (``nonzero`` indexing, the suite's
    path before it was made free of host synchronisation), drawing the same random numbers in the
    same order as :func:`ortho_suite.augment.augment_view`."""
    n = images.shape[0]

    def uniform(low, high):
        return torch.rand(n, generator=g) * (high - low) + low

    def apply_to(x, mask, fn):
        idx = torch.nonzero(mask, as_tuple=True)[0]
        out = x.clone()
        if idx.numel():
            out[idx] = fn(x[idx], idx)
        return out

    boxes = A.sample_crop_boxes(n, *images.shape[-2:], recipe.crop_scale, recipe.crop_ratio, g)
    x = A.resized_crop(images, boxes, recipe.size, recipe.interpolation)
    jittered = torch.rand(n, generator=g) < recipe.jitter
    ranges = A.jitter_ranges(recipe.brightness, recipe.contrast, recipe.saturation, recipe.hue)
    factors = [uniform(low, high) for _, low, high in ranges]
    order = torch.argsort(torch.rand(n, len(ranges), generator=g), dim=1)
    ops = {"brightness": A.adjust_brightness, "contrast": A.adjust_contrast,
           "saturation": A.adjust_saturation, "hue": A.adjust_hue}
    for step in range(len(ranges)):
        for k, (name, _, _) in enumerate(ranges):
            x = apply_to(x, jittered & (order[:, step] == k),
                         lambda v, idx, k=k, name=name: ops[name](v, factors[k][idx]))
    x = apply_to(x, torch.rand(n, generator=g) < recipe.grayscale,
                 lambda v, _: A.rgb_to_grayscale(v).expand_as(v))
    blurred = torch.rand(n, generator=g) < recipe.blur
    sigma = uniform(*recipe.blur_sigma)
    x = apply_to(x, blurred, lambda v, idx: A.gaussian_blur(v, sigma[idx], recipe.blur_sigma[1]))
    x = apply_to(x, torch.rand(n, generator=g) < recipe.solarize,
                 lambda v, _: A.solarize(v, recipe.solarize_threshold))
    return apply_to(x, torch.rand(n, generator=g) < recipe.hflip, lambda v, _: v.flip(-1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sync_free_view_equals_the_indexed_computation_bitwise(dtype):
    """Selecting with torch.where over whole-batch ops gives exactly what computing each op on
    its selected images gives (every op is per image), at the recipes' probabilities."""
    x = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(6), dtype=dtype)
    recipe = A.ViewRecipe(size=24, jitter=0.8, grayscale=0.2, blur=0.5, solarize=0.2)
    ours = A.augment_view(x, recipe, torch.Generator().manual_seed(7))
    ref = _indexed_view(x, recipe, torch.Generator().manual_seed(7))
    assert torch.equal(ours, ref)
    assert not torch.equal(ours, A.augment_view(x, recipe, torch.Generator().manual_seed(8)))
