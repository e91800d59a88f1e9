"""Colour jitter and random grayscale of T (codegan/data/augment_color.py)."""

import pytest
import torch
import torchvision.transforms.functional as TF

from codegan.data.augment import Augment
from codegan.data.augment_color import (adjust_brightness, adjust_contrast, adjust_hue,
                                        adjust_saturation, color_transforms, grayscale, hsv_to_rgb,
                                        rgb_to_hsv)
from codegan.config import validate


@pytest.fixture
def u():
    torch.manual_seed(0)
    return torch.rand(6, 3, 8, 8)


@pytest.mark.parametrize("f", [0.0, 0.6, 1.0, 1.3])
def test_multiplicative_jitters_equal_torchvision(u, f):
    torch.testing.assert_close(adjust_brightness(u, f), TF.adjust_brightness(u, f))
    torch.testing.assert_close(adjust_contrast(u, f), TF.adjust_contrast(u, f))
    torch.testing.assert_close(adjust_saturation(u, f), TF.adjust_saturation(u, f))


@pytest.mark.parametrize("h", [-0.5, -0.1, 0.0, 0.07, 0.33])
def test_hue_shift_equals_torchvision(u, h):
    u = u.clone()
    u[0] = 0.4  # gray pixels: hue undefined, must stay gray
    u[1, :, :2] = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)  # pure red
    torch.testing.assert_close(adjust_hue(u, h), TF.adjust_hue(u, h), atol=1e-5, rtol=0)


def test_hsv_round_trip_and_grayscale(u):
    torch.testing.assert_close(hsv_to_rgb(rgb_to_hsv(u)), u, atol=1e-6, rtol=0)
    torch.testing.assert_close(grayscale(u), TF.rgb_to_grayscale(u))


def test_factor_per_image_broadcasts(u):
    f = torch.tensor([0.5, 1.0, 1.5, 0.7, 1.2, 1.0]).view(6, 1, 1, 1)
    want = torch.stack([TF.adjust_saturation(u[i:i + 1], float(f[i]))[0] for i in range(6)])
    torch.testing.assert_close(adjust_saturation(u, f), want)


def test_off_is_identity_and_grayscale_p1_is_luma(u):
    torch.testing.assert_close(color_transforms(u, None, 0.8, 0.0, False), u)
    torch.testing.assert_close(color_transforms(u, [0.3, 0.3, 0.3, 0.1], 0.0, 0.0, True), u)
    g = color_transforms(u, None, 0.8, 1.0, True)
    torch.testing.assert_close(g, TF.rgb_to_grayscale(u, 3))


def test_per_batch_draws_one_set_per_sample_draws_many():
    torch.manual_seed(1)
    img = torch.rand(1, 3, 8, 8).expand(32, 3, 8, 8).contiguous()
    jit = [0.3, 0.3, 0.3, 0.1]
    out = color_transforms(img, jit, 0.8, 0.1, per_sample=False)
    assert torch.equal(out, out[:1].expand_as(out))  # the whole batch got the same transform
    out = color_transforms(img, jit, 0.8, 0.1, per_sample=True)
    assert len({tuple(o.flatten()[:5].tolist()) for o in out}) > 16


def test_brightness_factors_follow_the_torchvision_range():
    torch.manual_seed(2)
    x = torch.full((4000, 3, 2, 2), 0.5)
    out = color_transforms(x, [0.3, 0, 0, 0], 1.0, 0.0, per_sample=True)
    f = out[:, 0, 0, 0] / 0.5
    assert f.min() >= 0.7 - 1e-6 and f.max() <= 1.3 + 1e-6
    assert f.min() < 0.72 and f.max() > 1.28  # uniform over the whole range
    assert abs(float(f.mean()) - 1.0) < 0.02
    # jitter_p: about 80 % of the images are changed
    out = color_transforms(x, [0.3, 0, 0, 0], 0.8, 0.0, per_sample=True)
    changed = (out[:, 0, 0, 0] != 0.5).float().mean()
    assert 0.77 < float(changed) < 0.83


def test_minus_one_one_range_is_the_same_transform(u):
    x = u * 2 - 1
    jit = [0.3, 0.3, 0.3, 0.1]
    torch.manual_seed(5)
    a = color_transforms(x, jit, 0.8, 0.5, True, image_range=(-1, 1))
    torch.manual_seed(5)
    b = color_transforms(u, jit, 0.8, 0.5, True, image_range=(0, 1))
    torch.testing.assert_close(a, b * 2 - 1)
    assert a.min() >= -1 and a.max() <= 1


def test_one_channel_images_ignore_saturation_hue_grayscale():
    torch.manual_seed(0)
    x = torch.rand(5, 1, 6, 6)
    torch.testing.assert_close(color_transforms(x, [0, 0, 0.5, 0.5], 1.0, 1.0, True), x)


def test_differentiable_for_gs_step(u):
    x = u.clone().requires_grad_(True)
    color_transforms(x, [0.3, 0.3, 0.3, 0.1], 1.0, 0.0, True).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_augment_from_config_passes_the_cifar_range():
    cfg = validate({"dataset": "cifar10", "max_step": 1, "zn_dim": 4, "zc_dim": 10, "fc_dim": 4,
                    "beta_1": 1, "beta_2": 1, "lr": 1e-4, "g_batch_size": 2, "d_batch_size": 2,
                    "ec_batch_size": 2, "ez_batch_size": 2,
                    "aug_color_jitter": [0.3, 0.3, 0.3, 0.1], "aug_grayscale_p": 1.0})
    T = Augment.from_config(cfg)
    assert T.image_range == (-1, 1)
    x = torch.rand(3, 3, 8, 8) * 2 - 1
    y = T(x)
    assert y.min() >= -1 and y.max() <= 1
    torch.testing.assert_close(y[:, 0], y[:, 1])  # grayscale p = 1
