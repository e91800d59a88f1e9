"""The speed switches compute the same thing: a few training iterations from one seed give equal
losses and equal weights (within float rounding) on the plain reference path and on the fast path,
with every exact-maths switch on together and each on alone."""

import os

import numpy as np
import pytest
import torch

from codegan.config import load_config
from codegan.training.loop import Trainer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = os.path.join(REPO, "Fashion-MNIST")

# the plain path: every exact-maths speed switch off
REFERENCE = dict(fused_adam=False, split_detached_view=False, stack_d_batches=False,
                 channels_last=False)
FAST = dict(fused_adam=True, split_detached_view=True, stack_d_batches=True, channels_last=True)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """A tiny stand-in for fashion_mnist.npz (random uint8 images), so the test needs no download."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    np.savez(root / "fashion_mnist.npz",
             x_train=rng.integers(0, 256, (96, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 96), x_test=rng.integers(0, 256, (20, 28, 28),
                                                                  dtype=np.uint8),
             y_test=rng.integers(0, 10, 20))
    return str(root)


def run(data_root, switches, iters=2, seed=0, dtype=torch.float32):
    """``iters`` training iterations at tiny batch sizes; returns (trainer, losses per iteration).
    ``dtype=torch.float64`` builds the nets and the data in double precision."""
    cfg = load_config(os.path.join(FASHION, "param.yml"), {
        "device": "cpu", "progress": False, "data_root": data_root, "seed": seed,
        "g_batch_size": 8, "d_batch_size": 8, "e_batch_size": 12, **switches})
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        tr = Trainer(cfg, FASHION)
        if dtype != torch.float32:
            real = tr.real
            tr.real = lambda xb: real(xb).to(dtype)
        losses = [{k: float(v) for k, v in tr.train_iteration().items()} for _ in range(iters)]
    finally:
        torch.set_default_dtype(old)
    return tr, losses


def bias_before_batchnorm(nets) -> set:
    """State names whose value is float noise by construction: the bias of a layer that feeds a
    BatchNorm has an exactly-zero gradient (BN subtracts the batch mean), so Adam turns rounding
    noise into full-size lr steps there, and the BN's running_mean carries that bias along. Neither
    changes a training-mode output; both are left out of the weight comparison."""
    out = set()
    for name, seq in nets.named_modules():
        if isinstance(seq, torch.nn.Sequential):
            layers = list(seq)
            for i in range(len(layers) - 1):
                if isinstance(layers[i + 1], torch.nn.modules.batchnorm._BatchNorm) and \
                        getattr(layers[i], "bias", None) is not None:
                    out |= {f"{name}.{i}.bias", f"{name}.{i + 1}.running_mean"}
    return out


def weight_diff(a, b):
    """Largest |difference| over the compared weights, and its name."""
    sa, sb = a[0].nets.state_dict(), b[0].nets.state_dict()
    skip = bias_before_batchnorm(a[0].nets)
    return max(((sa[k].double() - sb[k].double()).abs().max().item(), k)
               for k in sa if k not in skip)


def assert_same_losses(a, b, rel=1e-3):
    """Every loss of every iteration. float32: rel 1e-3 (see assert_same_weights for why the
    second iteration's losses already carry more than rounding); float64: rel 1e-9."""
    for la, lb in zip(a[1], b[1]):
        assert la.keys() == lb.keys()
        for k in la:
            assert la[k] == pytest.approx(lb[k], rel=rel, abs=rel * 1e-2), k


def assert_same_weights(a, b):
    """In float64. (In float32 Adam, which divides each gradient by its own running size, turns
    the rounding noise of weights whose gradient is near zero into steps of up to lr = 1e-4, so
    float32 weights agree only to about lr; the losses show the float32 kernels agree.)"""
    diff, name = weight_diff(a, b)
    assert diff < 1e-9, f"{name} differs by {diff:.3g}"


@pytest.fixture(scope="module")
def reference(data_root):
    return run(data_root, REFERENCE)


@pytest.fixture(scope="module")
def reference64(data_root):
    return run(data_root, REFERENCE, dtype=torch.float64)


def test_fast_path_equals_reference(data_root, reference, reference64):
    fast = run(data_root, FAST)
    assert fast[0].method.split_view and fast[0].stack_d  # the shortcuts were really taken
    assert_same_losses(reference, fast)
    fast64 = run(data_root, FAST, dtype=torch.float64)
    assert_same_losses(reference64, fast64, rel=1e-9)
    assert_same_weights(reference64, fast64)


@pytest.mark.parametrize("switch", sorted(FAST))
def test_each_switch_alone_equals_reference(data_root, reference64, switch):
    one = run(data_root, {**REFERENCE, switch: True}, dtype=torch.float64)
    assert_same_losses(reference64, one, rel=1e-9)
    assert_same_weights(reference64, one)


def test_comparison_tells_a_different_run_apart(data_root, reference64):
    """The checks can fail: another seed's run is told apart, in losses and in weights."""
    other = run(data_root, REFERENCE, seed=1, dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_same_losses(reference64, other, rel=1e-3)
    with pytest.raises(AssertionError):
        assert_same_weights(reference64, other)


def test_shortcuts_are_refused_where_they_would_change_the_maths():
    from codegan.nets import has_batchnorm, has_spectral_norm

    assert has_batchnorm(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)))
    assert not has_batchnorm(torch.nn.Conv2d(1, 2, 3))
    assert has_spectral_norm(torch.nn.utils.spectral_norm(torch.nn.Linear(2, 2)))
    assert has_spectral_norm(torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(2, 2)))
    assert not has_spectral_norm(torch.nn.Linear(2, 2))
