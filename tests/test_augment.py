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
    """edge="box" (the default) is torchvision's crop-then-resize, ring included, to float64
    rounding, flipped or not; edge="image" differs on the outermost ring of pixels only."""
    torch.manual_seed(0)
    x = torch.rand(2, 3, 28, 28, dtype=torch.float64)
    for top, left, h, w in ((3, 5, 20, 22), (0, 11, 27, 17), (10, 2, 15, 24), (0, 0, 28, 28)):
        box = [torch.full((2,), float(v), dtype=torch.float64) for v in (top, left, h, w)]
        ref = TF.resized_crop(x, top, left, h, w, [28, 28], antialias=True)
        for flip in (False, True):
            ours = crop_flip(x, *box, torch.full((2,), flip))
            torch.testing.assert_close(ours, TF.hflip(ref) if flip else ref, atol=1e-12, rtol=0)
        ring = crop_flip(x, *box, torch.zeros(2, dtype=torch.bool), edge="image")
        assert (ring - ref)[..., 1:-1, 1:-1].abs().max() < 1e-12
        if (h, w) != (28, 28):
            assert (ring - ref).abs().max() > 1e-3  # the ring blends in pixels outside the box


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


def test_crop_boxes_are_distributed_as_torchvisions_get_params():
    """The vectorised boxes follow the distribution of the official T's draws
    (``RandomResizedCrop.get_params``: the first of ten tries that fits, then a uniform offset):
    chi-square two-sample tests of the joint (h, w) and of (h, top), 20,000 boxes each at the
    official Fashion-MNIST and MNIST scales. Fixed seeds: the verdict is the same on every run."""
    import numpy as np
    from scipy.stats import chi2_contingency
    from torchvision.transforms import RandomResizedCrop

    def p_value(a, b):  # a, b: (n, 2) integer pairs; categories seen at least 10 times in all
        _, cat = np.unique(np.concatenate([a, b]), axis=0, return_inverse=True)
        cat = cat.ravel()
        table = np.stack([np.bincount(cat[:len(a)], minlength=cat.max() + 1),
                          np.bincount(cat[len(a):], minlength=cat.max() + 1)])
        return chi2_contingency(table[:, table.sum(0) >= 10])[1]

    n, img = 20000, torch.empty(1, 28, 28)
    for scale in ((0.8, 1.0), (0.7, 1.0)):
        torch.manual_seed(1)
        top, left, h, w = (t.long().numpy() for t in crop_boxes(n, 28, 28, scale, (3 / 4, 4 / 3)))
        torch.manual_seed(2)
        ref = np.array([RandomResizedCrop.get_params(img, list(scale), [3 / 4, 4 / 3])
                        for _ in range(n)])  # (i, j, h, w)
        assert p_value(np.stack([h, w], 1), ref[:, [2, 3]]) > 1e-3, scale
        assert p_value(np.stack([h, top], 1), ref[:, [2, 0]]) > 1e-3, scale
