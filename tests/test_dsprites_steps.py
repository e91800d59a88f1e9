"""CoDeGAN's dSprites steps as the official dSprites solver makes them
(learninginvision/CoDeGAN@348d046:dSprites/solver.py): the encoder called once per view, in its
order (``encoder_calls: per_view``; each call of the spectral-norm E is one power step), and D's
loss halved (``d_loss_scale: 0.5``, its ``(BCE(real) + BCE(fake)) / 2``). Checked against the
definition recomputed here from the step's own draws and a copy of the networks before it."""

import copy
import os

import torch
import torch.nn.functional as F

from codegan.config import load_config
from codegan.methods.losses import supcon_loss
from codegan.training.loop import Trainer

from test_dsprites_folder import FOLDER, fixture_root, write_fixture  # noqa: F401 (fixture)

SMALL = {"g_batch_size": 6, "d_batch_size": 6, "e_batch_size": 6, "max_iters": 2,
         "kmeans_runs": 1, "progress": False, "device": "cpu", "grid_per_class": 1,
         "dsprites_test_images": 60, "train_metrics": [], "few_labels": True, "n_labels": 30,
         "r_batch_size": 3, "chain_step": 0}


def trainer(root, out, **over):
    torch.manual_seed(0)
    cfg = load_config(os.path.join(FOLDER, "param.yml"),
                      {**SMALL, "data_root": root, "out": str(out), **over})
    return Trainer(cfg, FOLDER)


def biased(net):
    """Non-zero biases, as after training: at the start (zero biases: a positively homogeneous
    E) the normalised features do not see a layer's 1 / sigma, whichever power step made it."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.uniform_(-0.1, 0.1)


def record(monkeypatch, m, grads_of=None):
    """The step's views and latents, and each loss handed to ``minimize`` (and its gradient
    with respect to ``grads_of[name]``, where given)."""
    grads_of = grads_of or {}
    seen = {"views": [], "fakes": [], "loss": {}, "grads": {}}
    views, fakes, minimize = m._views, m._fakes, m.minimize

    def rec_views(*a, **k):
        seen["views"].append(views(*a, **k))
        return seen["views"][-1]

    def rec_fakes(n):
        seen["fakes"].append(fakes(n))
        return seen["fakes"][-1]

    def rec_minimize(name, loss):
        seen["loss"][name] = loss.detach().clone()
        if name in grads_of:
            seen["grads"][name] = torch.autograd.grad(loss, grads_of[name], retain_graph=True)
        return minimize(name, loss)

    monkeypatch.setattr(m, "_views", rec_views)
    monkeypatch.setattr(m, "_fakes", rec_fakes)
    monkeypatch.setattr(m, "minimize", rec_minimize)
    return seen


def test_the_e_step_calls_e_once_per_view_in_the_official_order(fixture_root, tmp_path,
                                                                 monkeypatch):
    """``encoder_calls: per_view`` (the folder's setting): E's loss is the official
    ``beta_zc L_c + beta_zn L_z`` of E(plain fakes), E(augmented fakes), E(plain labelled reals),
    E(augmented labelled reals), called in that order from E's state before the step; after it,
    E's spectral-norm vectors have taken those four power steps. One stacked call gives another
    loss (one power step)."""
    tr = trainer(fixture_root, tmp_path)
    assert tr.cfg.encoder_calls == "per_view" and tr.method.labelled is not None
    m = tr.method
    biased(tr.nets.E)
    E0 = copy.deepcopy(tr.nets.E)
    seen = record(monkeypatch, m)
    m.e_steps(0)
    (z, _, _), = seen["fakes"]
    (q, k, y), = seen["views"]
    n = len(z)
    assert len(q) == n + 3  # the labelled reals follow the fakes

    stacked_E = copy.deepcopy(E0)
    with torch.no_grad():
        outs = [E0(v) for v in (q[:n], k[:n], q[n:], k[n:])]
        f = torch.cat([outs[0][1], outs[2][1], outs[1][1], outs[3][1]])
        want = (tr.cfg.beta_1 * supcon_loss(f, torch.cat([y, y]), tr.cfg.temp_C, 0.07)
                + tr.cfg.beta_2 * F.mse_loss(outs[0][0], z))
        z_s, f_s = stacked_E(torch.cat([q, k]))
        stacked = (tr.cfg.beta_1 * supcon_loss(f_s, torch.cat([y, y]), tr.cfg.temp_C, 0.07)
                   + tr.cfg.beta_2 * F.mse_loss(z_s[:n], z))
    got = seen["loss"]["E"]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert abs(float(stacked - want)) > 100 * abs(float(got - want)) + 1e-4
    u = {k: v for k, v in tr.nets.E.state_dict().items() if k.endswith("._u")}
    for key, val in E0.state_dict().items():
        if key.endswith("._u"):
            torch.testing.assert_close(u[key], val, rtol=1e-5, atol=1e-6)


def test_the_g_step_encodes_the_views_as_the_official_forward_g(fixture_root, tmp_path,
                                                                monkeypatch):
    """Before the chain epoch G's ``L_c`` holds the labelled reals: the official ``forward_G``
    calls E on the plain fakes, the augmented fakes, the plain and the augmented reals, in that
    order, after D's call: G's loss from those calls of a copy of G, E and D equals the step's,
    and so does its gradient (through the plain fakes only: T(x) is detached, as officially)."""
    tr = trainer(fixture_root, tmp_path, chain_step=3)
    m = tr.method
    biased(tr.nets.E)
    G0, E0, D0 = (copy.deepcopy(net) for net in (tr.nets.G, tr.nets.E, tr.nets.D))
    calls = []
    tr.nets.E.register_forward_hook(lambda mod, inp, out: calls.append(len(inp[0])))
    seen = record(monkeypatch, m, {"G": list(tr.nets.G.parameters())})
    z, c = tr.latents(tr.cfg.g_batch_size)
    monkeypatch.setattr(tr, "latents", lambda n: (z, c))
    m.g_step(0)
    (q, k, y), = seen["views"]
    n = len(z)
    assert calls == [n, n, 3, 3]
    G0.requires_grad_(True)
    x = G0(z, c)
    torch.testing.assert_close(x, q[:n])
    d_fake = D0(x)
    outs = [E0(x)]
    with torch.no_grad():
        outs += [E0(v) for v in (k[:n], q[n:], k[n:])]
    f = torch.cat([outs[0][1], outs[2][1], outs[1][1], outs[3][1]])
    want = (F.softplus(-d_fake).mean()
            + tr.cfg.beta_1 * supcon_loss(f, torch.cat([y, y]), tr.cfg.temp_C, 0.07)
            + tr.cfg.beta_2 * F.mse_loss(outs[0][0], z))
    torch.testing.assert_close(seen["loss"]["G"], want.detach(), rtol=1e-5, atol=1e-6)
    for got, ref in zip(seen["grads"]["G"], torch.autograd.grad(want, list(G0.parameters()))):
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-6)


def test_d_loss_scale_halves_the_adversarial_loss_only(fixture_root, tmp_path, monkeypatch):
    """dSprites' ``d_loss_scale: 0.5``: D minimises the official ``(BCE(real) + BCE(fake)) / 2``
    of the same scores that ``d_loss_scale: 1`` sums; with a gradient penalty (WGAN-GP) only the
    adversarial part is scaled."""
    for gan_loss in ("ns", "wgan-gp"):
        seen = {}
        for scale in (0.5, 1.0):
            tr = trainer(fixture_root, tmp_path / f"{gan_loss}{scale}", d_loss_scale=scale,
                         gan_loss=gan_loss)
            rec = record(monkeypatch, tr.method)
            out = tr.method.d_step()
            seen[scale] = (rec["loss"]["D"], out)
        (half, out_half), (full, out_full) = seen[0.5], seen[1.0]
        gp = tr.cfg.gp_weight * out_full["D/gp"] if gan_loss == "wgan-gp" else 0.0
        adv = full - gp
        assert abs(float(adv)) > 1e-3
        torch.testing.assert_close(half, 0.5 * adv + gp, rtol=1e-6, atol=1e-7)
