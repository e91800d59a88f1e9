"""InfoGAN-CR's iteration against its definition, in float64: every loss each optimiser minimises
(H, D/Q, both G steps), its value and its gradient, recomputed here from one recorded feed with
the networks as they were before that step, as the official loop computes it
(fjxmlzn/InfoGAN-CR@e0537bc:InfoGAN-CR_dSprites/gan/infogan_cr.py:108-205, 445-489): one draw of
latents and pairs per iteration for every step, each half of a pair through G in its own call,
D's fakes from the same latents as G's steps. Also: H reads the pair as 2C channels with D's
architecture, and its weights are drawn anew at the CR switch."""

import copy
import math
import os

import pytest
import torch
import torch.nn.functional as F

from codegan.config import load_config
from codegan.training.loop import Trainer
from conftest import REPO, TINY, record_steps

MNIST_DIR = os.path.join(REPO, "MNIST")
CIFAR_DIR = os.path.join(REPO, "CIFAR-10")


def config(data_root, out, folder=MNIST_DIR, **over):
    return load_config(os.path.join(folder, "param.yml"),
                       {**TINY, "data_root": data_root, "out": str(out), "method": "infogan-cr",
                        **over})


class Recorder:
    """Records, for one iteration, the feed, the real batch and, at each optimiser step, the
    networks before the step, the loss and its gradient with respect to the stepped parameters."""

    def __init__(self, tr, monkeypatch):
        self.tr, self.feeds, self.reals, self.steps = tr, [], [], []
        m, loop = tr.method, tr
        draw, next_real = m.draw_feed, loop.next_real

        def draw_feed():
            feed = draw()
            self.feeds.append(feed)
            return feed

        def real():
            x = next_real()
            self.reals.append(x.detach().clone())
            return x

        monkeypatch.setattr(m, "draw_feed", draw_feed)
        monkeypatch.setattr(loop, "next_real", real)
        record_steps(tr, monkeypatch, self.steps)


def info_terms(cfg, q, z, c):
    """InfoGAN's MI terms written out: CE of the class logits + Gaussian NLL (std 1) of the
    continuous codes, summed over the codes and averaged over the batch."""
    k, m = cfg.zc_dim, cfg.info_cont_dim
    ce = F.cross_entropy(q[:, :k], c)
    nll = (0.5 * (z[:, :m] - q[:, k:k + m]) ** 2).sum(1).mean() + 0.5 * m * math.log(2 * math.pi)
    return cfg.info_weight_c * ce + cfg.info_weight_cont * nll


def pair_ce(nets, pairs):
    """CE(H(G(z1, c1), G(z2, c2)), i): each half through G in a call of its own."""
    z1, c1, z2, c2, i = pairs
    return F.cross_entropy(nets.H(nets.G(z1, c1), nets.G(z2, c2)), i)


def definition(name, nets, cfg, feed, real, lam):
    """The loss that the optimiser ``name`` minimises, from the definition, on ``nets``."""
    z, c, pairs = feed
    if name == "H":
        return pair_ce(nets, pairs)
    if name == "D":
        zd, cd = z[:cfg.d_batch_size], c[:cfg.d_batch_size]
        fake = nets.G(zd, cd).detach()
        h = nets.D.features(fake)
        return (F.softplus(-nets.D(real)).mean() + F.softplus(nets.D.head(h)).mean()
                + info_terms(cfg, nets.Q(h), zd, cd))
    zg, cg = z[:cfg.g_batch_size], c[:cfg.g_batch_size]
    h = nets.D.features(nets.G(zg, cg))
    loss = F.softplus(-nets.D.head(h)).mean() + info_terms(cfg, nets.Q(h), zg, cg)
    return loss + lam * pair_ce(nets, pairs)


def recorded_iteration(tiny_data, tmp_path, monkeypatch, **over):
    tr = Trainer(config(tiny_data, tmp_path, **over), MNIST_DIR)
    real = tr.real
    monkeypatch.setattr(tr, "real", lambda xb: real(xb).double())
    rec = Recorder(tr, monkeypatch)
    tr.train_iteration()
    return tr, rec


@pytest.mark.parametrize("cr_on", [True, False])
def test_each_step_minimises_its_definition_on_one_feed(tiny_data, tmp_path, monkeypatch,
                                                        float64, cr_on):
    """H, D/Q, G, G in that order; each loss and gradient equals the definition's on the one
    feed (a CR term left out or weighted 0, fresh latents for D or for a G step, fresh pairs
    for H or a G step, or both halves of a pair through G in one call make it differ)."""
    over = dict(cr_start=0.0, cr_weight=2.0) if cr_on else dict(cr_weight=0.0)
    tr, rec = recorded_iteration(tiny_data, tmp_path, monkeypatch, g_batch_size=8,
                                 d_batch_size=6, **over)
    cfg = tr.cfg
    assert [s[0] for s in rec.steps] == ["H", "D", "G", "G"]
    assert len(rec.feeds) == 1 and len(rec.reals) == 1
    lam = 2.0 if cr_on else 0.0
    for name, nets, loss, grads in rec.steps:
        if name == "H":  # pairs through G with BatchNorm in eval mode while the CR is off
            nets.G.train(cr_on)
        want = definition(name, nets, cfg, rec.feeds[0], rec.reals[0], lam)
        assert loss == pytest.approx(float(want.detach()), rel=1e-10), name
        own = dict(H=nets.H, D=nets.D, G=nets.G)[name]
        mine = [p for p in own.parameters()] + ([*nets.Q.parameters()] if name == "D" else [])
        want_g = torch.autograd.grad(want, mine, allow_unused=True)
        assert len(want_g) == len(grads)
        for a, b in zip(grads, want_g):
            if b is None:
                assert a is None or not a.any()
                continue
            assert torch.allclose(a, b, rtol=1e-8, atol=1e-12), name


def test_the_definition_check_can_tell_a_dropped_cr_term(tiny_data, tmp_path, monkeypatch,
                                                          float64):
    """The check above is not vacuous: the G loss without its CR term differs from the
    recorded one by lambda times the pair CE."""
    tr, rec = recorded_iteration(tiny_data, tmp_path, monkeypatch, cr_start=0.0)
    name, nets, loss, _ = rec.steps[2]
    without = definition(name, nets, tr.cfg, rec.feeds[0], rec.reals[0], 0.0)
    assert abs(loss - float(without)) > 1e-3


def test_h_reads_the_pair_as_2c_channels_of_ds_architecture(tiny_data, tmp_path):
    """The official CrDiscriminator's first layer sees both images with filters of their own:
    H's trunk is D's class and settings on 2C input channels, and no layer first mixes the pair
    down to C channels."""
    from codegan.methods.infogan_cr import InfoGANCR
    from codegan.nets.resnet import ResNetDiscriminator

    tr = Trainer(config(tiny_data, tmp_path), MNIST_DIR)
    cifar = config(tiny_data, tmp_path, CIFAR_DIR)
    d_cifar = ResNetDiscriminator(3, 32)
    for H, D, cfg, c in ((tr.nets.H, tr.nets.D, tr.cfg, 1),
                         (InfoGANCR._new_h(cifar, d_cifar), d_cifar, cifar, 3)):
        assert type(H.trunk) is type(D)
        assert H.trunk.init_args == {**D.init_args, "channels": 2 * c}
        convs = [m for m in H.modules() if isinstance(m, torch.nn.Conv2d)]
        assert not any(m.in_channels == 2 * c and m.out_channels == c and m.kernel_size == (1, 1)
                       for m in convs)
        readers = [m for m in convs if m.in_channels == 2 * c]
        assert readers and all(m.weight.shape[1] == 2 * c for m in readers)
        x1, x2 = torch.rand(2, 2, c, *([28] * 2 if c == 1 else [32] * 2))
        assert H(x1, x2).shape == (2, InfoGANCR.n_factors(cfg))


def test_h_is_drawn_anew_at_the_switch(tiny_data, tmp_path, monkeypatch):
    """At the CR switch H's step starts from the weights of a new H (the official re-runs H's
    initialisers) and a new Adam; before it, from the weights H trained to."""
    tr = Trainer(config(tiny_data, tmp_path, max_iters=4, cr_start=0.5), MNIST_DIR)
    m = tr.method
    fresh, at_step = [], []
    new_h, h_step = m._new_h, m.h_step

    def spy_new(cfg, D):
        h = new_h(cfg, D)
        fresh.append(copy.deepcopy(h.state_dict()))
        return h

    def spy_step(pairs, train_bn):
        at_step.append(copy.deepcopy(tr.nets.H.state_dict()))
        return h_step(pairs, train_bn)

    monkeypatch.setattr(m, "_new_h", spy_new)
    monkeypatch.setattr(m, "h_step", spy_step)
    adams = []
    for _ in range(4):
        tr.train_iteration()
        adams.append(tr.opt["H"])
    assert len(fresh) == 1  # one new H, at iteration 2 (= 0.5 of 4)

    def same(a, b):
        return all(torch.equal(a[k], b[k]) for k in a)

    assert same(at_step[2], fresh[0])
    assert not same(at_step[1], fresh[0]) and not same(at_step[1], at_step[2])
    assert adams[1] is not adams[2] and adams[2] is adams[3]
    assert float(next(iter(tr.opt["H"].state.values()))["step"]) == 2
