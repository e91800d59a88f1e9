import torch
import torchvision.transforms.functional as TF

from codegan.data.augment import Augment, crop_boxes, crop_flip


def test_full_box_without_flip_is_identity():
    x = torch.rand(3, 2, 9, 7)
    n = len(x)
    out = crop_flip(x, torch.zeros(n), torch.zeros(n), torch.full((n,), 9.0),
                    torch.full((n,), 7.0), torch.zeros(n, dtype=torch.bool))
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_flip_mirrors_exactly():
    x = torch.rand(2, 1, 6, 6)
    n = len(x)
    out = crop_flip(x, torch.zeros(n), torch.zeros(n), torch.full((n,), 6.0),
                    torch.full((n,), 6.0), torch.ones(n, dtype=torch.bool))
    torch.testing.assert_close(out, x.flip(-1), atol=1e-5, rtol=0)


def test_crop_matches_torchvision_resized_crop():
    torch.manual_seed(0)
    x = torch.rand(1, 1, 28, 28)
    top, left, h, w = 3, 5, 20, 22
    ours = crop_flip(x, torch.tensor([3.0]), torch.tensor([5.0]), torch.tensor([20.0]),
                     torch.tensor([22.0]), torch.tensor([False]))
    ref = TF.resized_crop(x, top, left, h, w, [28, 28], antialias=False)
    # bilinear sampling of the same box: equal up to border handling at the crop's edge
    assert (ours - ref)[..., 1:-1, 1:-1].abs().max() < 1e-4


def test_crop_boxes_fit_and_follow_scale():
    torch.manual_seed(0)
    top, left, h, w = crop_boxes(4000, 28, 28, (0.7, 1.0), (3 / 4, 4 / 3))
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= 28).all() and (left + w <= 28).all()
    area = h * w / 784
    assert area.min() > 0.6 and area.max() <= 1.0
    assert len(torch.unique(top)) > 1 and len(torch.unique(h)) > 1


def test_per_batch_draws_one_crop_per_sample_draws_many():
    torch.manual_seed(0)
    x = torch.rand(1, 1, 28, 28).repeat(16, 1, 1, 1)
    same = Augment(crop_scale=(0.5, 0.9), hflip=True, per_sample=False)(x)
    assert all(torch.equal(same[0], s) for s in same)
    diff = Augment(crop_scale=(0.5, 0.9), hflip=True, per_sample=True)(x)
    assert not all(torch.equal(diff[0], s) for s in diff)
    assert not torch.equal(same[0], x[0])


def test_augment_keeps_shape_range_and_is_seeded():
    x = torch.rand(5, 3, 32, 32)
    t = Augment(crop_scale=(0.6, 1.0), hflip=True, per_sample=True)
    torch.manual_seed(3)
    a = t(x)
    torch.manual_seed(3)
    b = t(x)
    assert a.shape == x.shape and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
