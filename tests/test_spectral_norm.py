"""Spectral norm's two power-step orders (codegan/nets/spectral.py): ``v_first`` computes what the
official code's ``torch.nn.utils.spectral_norm`` computes; ``u_first`` is the parametrization
API's; a checkpoint loads into either; runs stored before the setting keep their order."""

import os

import pytest
import torch
from torch import nn

from codegan import checkpoint as ckpt_io
from codegan.config import ADDED, SCHEMA, load_config, stored, without_base_keys
from codegan.nets.spectral import ORDERS, VFirstSpectralNorm, spectral_norm
from codegan.training.loop import Trainer
from codegan.training.train import auto_resume

from conftest import REPO, TINY

LAYERS = {"conv": (lambda: nn.Conv2d(3, 8, 3), (2, 3, 7, 7)),
          "linear": (lambda: nn.Linear(20, 5), (2, 20)),
          "transposed conv": (lambda: nn.ConvTranspose2d(4, 6, 3), (2, 4, 5, 5))}


def _pair(make, order):
    """The old API's layer and ours, from the same seed (the same weights and u, v draws)."""
    torch.manual_seed(0)
    old = nn.utils.spectral_norm(make())
    torch.manual_seed(0)
    return old, spectral_norm(make(), order)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_v_first_computes_what_torch_nn_utils_spectral_norm_computes(kind):
    """Start vectors, outputs, gradients and the vectors after each training call equal the old
    API's through weight updates; eval mode reuses the vectors in both."""
    make, shape = LAYERS[kind]
    with torch.random.fork_rng():
        torch.set_default_dtype(torch.float64)
        try:
            old, new = _pair(make, "v_first")
            p = new.parametrizations.weight
            assert torch.equal(old.weight_u, p[0]._u) and torch.equal(old.weight_v, p[0]._v)
            x = torch.randn(shape)
            for _ in range(4):
                a, b = old(x), new(x)
                torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
                a.square().sum().backward()
                b.square().sum().backward()
                torch.testing.assert_close(p.original.grad, old.weight_orig.grad, rtol=1e-10,
                                           atol=1e-12)
                torch.testing.assert_close(p[0]._u, old.weight_u, rtol=1e-12, atol=1e-12)
                torch.testing.assert_close(p[0]._v, old.weight_v, rtol=1e-12, atol=1e-12)
                with torch.no_grad():  # the same step on both weights
                    old.weight_orig -= 0.5 * old.weight_orig.grad
                    p.original -= 0.5 * old.weight_orig.grad
                old.zero_grad()
                new.zero_grad()
            old.eval()
            new.eval()
            u = p[0]._u.clone()
            torch.testing.assert_close(new(x), old(x), rtol=1e-12, atol=1e-12)
            assert torch.equal(p[0]._u, u)  # no power step in eval mode
        finally:
            torch.set_default_dtype(torch.float32)


def test_u_first_is_the_parametrization_api_and_another_sigma():
    """u_first is torch.nn.utils.parametrizations.spectral_norm itself; from the same draws its
    first training call normalises by another sigma than the old API's (the difference the
    setting exists for)."""
    make, shape = LAYERS["linear"]
    old, new = _pair(make, "u_first")
    p = new.parametrizations.weight
    assert type(p[0]) is nn.utils.parametrizations._SpectralNorm
    torch.manual_seed(0)
    ref = nn.utils.parametrizations.spectral_norm(make())
    assert torch.equal(ref.parametrizations.weight[0]._u, p[0]._u)
    x = torch.randn(shape)
    assert (new(x) - old(x)).abs().max() > 1e-3
    with pytest.raises(ValueError, match="v_first"):
        spectral_norm(make(), "w_first")


def _d(order):
    cfg = load_config(os.path.join(REPO, "CIFAR-10", "param.yml"),
                      {**TINY, "sn_power_order": order})
    from codegan.nets.resnet import build_cifar_nets
    return cfg, build_cifar_nets(cfg).D


def test_the_folders_follow_the_setting_and_share_checkpoint_names():
    """CIFAR-10's D and dSprites' D and E use the official order by default; both orders keep
    the same state names, so a checkpoint of one loads into the other."""
    from codegan.nets.dsprites import build_nets

    assert SCHEMA["sn_power_order"].choices == ORDERS
    for order in ORDERS:
        cfg, D = _d(order)
        sns = [m for m in D.modules() if isinstance(m, nn.utils.parametrizations._SpectralNorm)]
        assert len(sns) == sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in D.modules())
        assert all(isinstance(m, VFirstSpectralNorm) == (order == "v_first") for m in sns)
        ds = load_config(os.path.join(REPO, "dSprites", "param.yml"), {"sn_power_order": order})
        nets = build_nets(ds)
        for net in (nets.D, nets.E):
            kinds = {type(m) for m in net.modules()
                     if isinstance(m, nn.utils.parametrizations._SpectralNorm)}
            assert kinds == {VFirstSpectralNorm if order == "v_first"
                             else nn.utils.parametrizations._SpectralNorm}
    assert load_config(os.path.join(REPO, "CIFAR-10", "param.yml")).sn_power_order == "v_first"
    _, a = _d("v_first")
    _, b = _d("u_first")
    b.load_state_dict(a.state_dict())
    assert list(a.state_dict()) == list(b.state_dict())


def test_a_run_stored_before_a_setting_existed_keeps_what_it_computed(tiny_data, tmp_path):
    """A checkpoint or config.yml without ``aug_crop_edge`` / ``sn_power_order`` was made with
    the crop and spectral norm of that time: resuming it keeps them, and --resume=auto does not
    take it for a run of today's defaults."""
    cifar = {"dataset": "cifar10", "method": "codegan", "aug_crop_scale": [0.2, 1.0]}
    assert stored(cifar) == {**cifar, "aug_crop_edge": "image", "sn_power_order": "u_first"}
    assert stored({**cifar, "aug_crop_edge": "box"})["aug_crop_edge"] == "box"
    # keys that change nothing for a run are left to their defaults, so that --resume=auto
    # still continues it: COIL-20 (no crop in T, no spectral norm), ConGAN's own networks,
    # a baseline's run (no T)
    for unaffected in ({"dataset": "coil20", "method": "codegan", "aug_crop_scale": None},
                       {"dataset": "cifar10", "method": "congan", "aug_crop_scale": None},
                       {"dataset": "dsprites", "method": "infogan", "infogan_cr_nets": True}):
        # (less CoDeGAN's settings where another method stored them: it never read them)
        assert stored(unaffected) == without_base_keys(unaffected, unaffected["method"])
    mnist = os.path.join(REPO, "MNIST")
    cfg = load_config(os.path.join(mnist, "param.yml"),
                      {**TINY, "data_root": tiny_data, "out": str(tmp_path), "max_iters": 2})
    assert cfg.aug_crop_edge == "box"
    run = Trainer(cfg, mnist).run()
    ck = ckpt_io.list_checkpoints(run)[-1]
    state = ckpt_io.load_checkpoint(ck)
    for key in ADDED:  # as a run stored before the settings existed
        del state["config"][key]
    os.remove(ck)
    ckpt_io.save_checkpoint(ck, state)
    with open(os.path.join(run, "config.yml")) as f:
        lines = [ln for ln in f if not ln.startswith(tuple(ADDED))]
    with open(os.path.join(run, "config.yml"), "w") as f:
        f.writelines(lines)
    resumed = Trainer(cfg, mnist, resume=ck, resume_overrides={"max_iters": 3})
    # MNIST crops (aug_crop_edge matters); it has no spectral norm (the default stands)
    assert resumed.cfg.aug_crop_edge == "image" and resumed.cfg.sn_power_order == "v_first"
    assert auto_resume(mnist, cfg) is None
    assert auto_resume(mnist, cfg.replace(aug_crop_edge="image")) == ck
