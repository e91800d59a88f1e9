"""CoDeGAN's G and D steps minimise their definitions (paper eq. 5-7; the official MNIST
``solver.py`` forms, learninginvision/CoDeGAN@348d046:MNIST/solver.py), in float64: at each
``minimize`` call the loss and its gradient are recomputed here from the step's recorded draws
(latents, the augmented view T(x), the real batch, the gradient penalty's value) and the
networks as they stand before the step:

    L_G = -mean D(G(z, c)) + beta_1 * SupCon([E_c(x), E_c(T(x))], [c, c]) + beta_2 * MSE(E_z(x), z)
    L_D = mean D(G(z', c')) - mean D(x_real) + gp_weight * GP

(our critic is the official one with D negated: FAITHFULNESS.md, "Losses"). Unequal ``beta_1``
and ``beta_2`` so a dropped or re-weighted term shows."""

import os

import pytest
import torch
import torch.nn.functional as F

import codegan.methods.codegan as cg
from codegan.config import load_config
from codegan.methods.losses import supcon_loss
from codegan.training.loop import Trainer
from conftest import REPO, TINY

MNIST_DIR = os.path.join(REPO, "MNIST")


def grads(loss, params):
    return torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)


def same_grads(a, b):
    for x, y in zip(a, b):
        if y is None or x is None:
            assert x is None or not x.any()
            assert y is None or not y.any()
        else:
            assert torch.allclose(x, y, rtol=1e-8, atol=1e-12)


def test_g_and_d_steps_minimise_their_definitions(tiny_data, tmp_path, monkeypatch, float64):
    cfg = load_config(os.path.join(MNIST_DIR, "param.yml"),
                      {**TINY, "data_root": tiny_data, "out": str(tmp_path), "beta_1": 2.5,
                       "beta_2": 0.7, "chain_step": 0})
    tr = Trainer(cfg, MNIST_DIR)
    m, nets = tr.method, tr.nets
    real_fn = tr.real
    monkeypatch.setattr(tr, "real", lambda xb: real_fn(xb).double())
    seen = {"latents": [], "views": [], "real": [], "gp": [], "fakes": []}

    latents, T, next_real, fakes, gp_fn = tr.latents, m.T, tr.next_real, m._fakes, \
        cg.gradient_penalty

    def rec(key, fn):
        def wrapped(*a, **k):
            out = fn(*a, **k)
            seen[key].append(out)
            return out
        return wrapped

    monkeypatch.setattr(tr, "latents", rec("latents", latents))
    monkeypatch.setattr(m, "T", rec("views", T))
    monkeypatch.setattr(tr, "next_real", rec("real", next_real))
    monkeypatch.setattr(m, "_fakes", rec("fakes", fakes))
    monkeypatch.setattr(cg, "gradient_penalty", rec("gp", gp_fn))
    checked, minimize = [], m.minimize

    def check(name, loss):
        if name == "G":
            z, c = seen["latents"][0]
            x = nets.G(z, c)
            k = seen["views"][0].detach()  # MNIST detaches T(x) in G's step (official)
            z_hat, f_x = nets.E(x)
            f_k = nets.E(k)[1]
            want = (-nets.D(x).mean()
                    + cfg.beta_1 * supcon_loss(torch.cat([f_x, f_k]), torch.cat([c, c]),
                                               cfg.temp_C, cfg.supcon_base_temp)
                    + cfg.beta_2 * F.mse_loss(z_hat, z))
            params = list(nets.G.parameters())
        elif name == "D":
            real, (_, _, fake) = seen["real"][-1], seen["fakes"][-1]
            want = (nets.D(fake).mean() - nets.D(real).mean()
                    + cfg.gp_weight * seen["gp"][-1])
            params = list(nets.D.parameters())
        else:
            return minimize(name, loss)
        assert float(loss.detach()) == pytest.approx(float(want.detach()), rel=1e-10), name
        same_grads(grads(loss, params), grads(want, params))
        checked.append(name)
        return minimize(name, loss)

    monkeypatch.setattr(m, "minimize", check)
    tr.train_iteration()
    assert checked == ["G", "D"]
    assert cfg.gp_weight > 0 and float(seen["gp"][-1].detach()) > 0  # the penalty is in play
