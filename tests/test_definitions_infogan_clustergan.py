"""InfoGAN's and ClusterGAN's steps against their definitions, in float64: every loss an optimiser
minimises, its value and its gradient, recomputed here from the recorded latents and real batch
with the networks as they were before that step. The other tests check the logged values and
which networks move; these check the loss that is actually minimised, so that a term dropped
from it, weighted 0 or fitted to the wrong entries shows. Also the features the E-based
evaluation reads (class probabilities, not logits) and the standard GAN's critic loss on known
scores.

InfoGAN (openai/InfoGAN, ``infogan_trainer.py``): one D/Q step, then one G step on fresh latents,
  L_D = BCE(D(x), 1) + BCE(D(G), 0) + w_c CE(Q_c(G), c) + w_cont NLL(Q_mu(G), z[:, :m])
  L_G = BCE(D(G), 1)                + the same two terms,
with Q on D's trunk. ClusterGAN (sudiptodip15/ClusterGAN ``Image_ClusterGAN.py:57-60, 74-77``):
after the 5th critic step one Adam step on G and E of
  L_GE = -D(G(z)) + beta_n mean (z_n - E_n(G))^2 + beta_c softmax CE(E_c(G), c)
(the official's D(G) with D negated, as its critic is)."""

import math
import os

import pytest
import torch
import torch.nn.functional as F

from codegan.config import load_config
from codegan.methods.clustergan import ClusterGAN
from codegan.methods.infogan import InfoGAN
from codegan.methods.losses import d_loss, g_loss
from codegan.training.loop import Trainer
from conftest import REPO, TINY, record_steps

MNIST_DIR = os.path.join(REPO, "MNIST")

# weights other than the defaults (1, 1 and 10, 10), each distinct, so that a term dropped or
# weighted 0, or two weights swapped, changes the loss
INFO = dict(info_weight_c=0.7, info_weight_cont=0.3, info_cont_dim=2)
BETAS = dict(beta_n=3.0, beta_c=7.0)


def config(data_root, out, method, **over):
    return load_config(os.path.join(MNIST_DIR, "param.yml"),
                       {**TINY, "data_root": data_root, "out": str(out), "method": method,
                        **over})


class Recorder:
    """Records the latents and real batches the steps draw, in order, and at each optimiser step
    the networks before the step, the loss and its gradient with respect to the parameters of
    that optimiser."""

    def __init__(self, tr, monkeypatch):
        self.latents, self.reals, self.steps = [], [], []
        loop = tr
        latents, next_real = loop.latents, loop.next_real

        def draw(n):
            z, c = latents(n)
            self.latents.append((z.detach().clone(), c.clone()))
            return z, c

        def real():
            x = next_real()
            self.reals.append(x.detach().clone())
            return x

        monkeypatch.setattr(loop, "latents", draw)
        monkeypatch.setattr(loop, "next_real", real)
        record_steps(tr, monkeypatch, self.steps)


def float64_trainer(tiny_data, tmp_path, monkeypatch, method, **over):
    """A trainer whose networks, latents and real images are float64 (inside ``float64``)."""
    tr = Trainer(config(tiny_data, tmp_path, method, **over), MNIST_DIR)
    real = tr.real
    monkeypatch.setattr(tr, "real", lambda xb: real(xb).double())
    assert next(tr.nets.G.parameters()).dtype == torch.float64
    return tr


def assert_matches(name, loss, grads, want, params):
    """The recorded loss and gradient equal the definition's ``want`` and its gradient with
    respect to ``params`` (the same parameters, of the copy taken before the step)."""
    assert loss == pytest.approx(float(want.detach()), rel=1e-10), name
    want_g = torch.autograd.grad(want, params, allow_unused=True)
    assert len(want_g) == len(grads)
    for a, b in zip(grads, want_g):
        if b is None:
            assert a is None or not a.any(), name
            continue
        assert a is not None, name
        assert torch.allclose(a, b, rtol=1e-8, atol=1e-12), name


# -- InfoGAN ---------------------------------------------------------------------------------------
def bce(p, target):
    """Binary cross-entropy of probabilities ``p`` against the constant ``target``, averaged."""
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()


def info_terms(cfg, q, z, c):
    """The MI terms written out: w_c * (-log softmax(Q_c)[c]) + w_cont * the negative log
    density of N(Q_mu, 1) at the continuous codes, the first ``info_cont_dim`` entries of z,
    summed over the codes; both averaged over the batch."""
    k, m = cfg.zc_dim, cfg.info_cont_dim
    logits = q[:, :k]
    p = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
    ce = -torch.log(p[torch.arange(len(c)), c]).mean()
    mu, code = q[:, k:k + m], z[:, :m]
    nll = (0.5 * (code - mu) ** 2 + 0.5 * math.log(2 * math.pi)).sum(1).mean()
    return cfg.info_weight_c * ce + cfg.info_weight_cont * nll


def infogan_definition(name, nets, cfg, latents, real):
    """The loss that InfoGAN's optimiser ``name`` minimises, on ``nets``."""
    if name == "D":
        z, c = latents[0]
        with torch.no_grad():
            fake = nets.G(z, c)
        h = nets.D.features(fake)
        p_real = torch.sigmoid(nets.D(real))
        p_fake = torch.sigmoid(nets.D.head(h))
        return bce(p_real, 1.0) + bce(p_fake, 0.0) + info_terms(cfg, nets.Q(h), z, c)
    z, c = latents[1]
    h = nets.D.features(nets.G(z, c))
    return bce(torch.sigmoid(nets.D.head(h)), 1.0) + info_terms(cfg, nets.Q(h), z, c)


def test_infogan_d_and_g_steps_minimise_their_definitions(tiny_data, tmp_path, monkeypatch,
                                                          float64):
    """One iteration: D/Q's loss (the standard GAN's cross-entropies and both MI terms, with
    their weights, on D's latents) and G's (non-saturating GAN loss and the same MI terms on its
    own fresh latents) equal their definitions in value and in gradient. G's MI terms left
    out, either weight zeroed or Q's means fitted to other entries of z than the continuous
    codes make them differ."""
    tr = float64_trainer(tiny_data, tmp_path, monkeypatch, "infogan", g_batch_size=8,
                         d_batch_size=6, **INFO)
    cfg = tr.cfg
    assert (cfg.gan_loss, cfg.critic, cfg.zc_dim) == ("ns", 1, 10)
    assert cfg.zn_dim > cfg.info_cont_dim  # the codes are not all of z
    rec = Recorder(tr, monkeypatch)
    tr.train_iteration()
    assert [s[0] for s in rec.steps] == ["D", "G"]
    assert [len(z) for z, _ in rec.latents] == [6, 8] and len(rec.reals) == 1
    for name, nets, loss, grads in rec.steps:
        want = infogan_definition(name, nets, cfg, rec.latents, rec.reals[0])
        params = ([*nets.D.parameters(), *nets.Q.parameters()] if name == "D"
                  else [*nets.G.parameters()])
        assert_matches(name, loss, grads, want, params)

    # the check can tell: G's loss without its MI terms, with either weight zeroed, or with
    # the means fitted to the last entries of z differs from the recorded one far beyond
    # the tolerance
    _, nets, loss, _ = rec.steps[1]
    z, c = rec.latents[1]
    with torch.no_grad():
        h = nets.D.features(nets.G(z, c))
        gan = float(bce(torch.sigmoid(nets.D.head(h)), 1.0))
        q = nets.Q(h)
    m = cfg.info_cont_dim
    cases = [cfg.replace(info_weight_c=0.0), cfg.replace(info_weight_cont=0.0)]
    others = [gan] + [gan + float(info_terms(o, q, z, c)) for o in cases]
    others.append(gan + float(info_terms(cfg, q, torch.cat([z[:, -m:], z[:, m:]], 1), c)))
    assert all(abs(o - loss) > 1e-6 * abs(loss) for o in others), (loss, others)


def test_infogan_evaluation_reads_the_class_softmax(tiny_data, tmp_path):
    """The E-based evaluation clusters Q's class probabilities on real images: rows of K
    entries that sum to 1 and equal the softmax of Q's class logits (not the logits, nor the
    continuous-code means)."""
    tr = Trainer(config(tiny_data, tmp_path, "infogan", **INFO), MNIST_DIR)
    nets, cfg = tr.nets, tr.cfg
    enc, read = InfoGAN.eval_encoder(nets, cfg)
    enc.eval()
    x = tr.next_real()
    with torch.no_grad():
        feats = read(enc(x)).double()
        q = nets.Q(nets.D.features(x)).double()
    k = cfg.zc_dim
    logits = q[:, :k]
    want = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
    assert feats.shape == (len(x), k)
    assert torch.allclose(feats.sum(1), torch.ones(len(x), dtype=torch.float64), atol=1e-6)
    assert torch.allclose(feats, want, atol=1e-6)
    assert not torch.allclose(logits.sum(1), torch.ones(len(x), dtype=torch.float64),
                              atol=1e-3)  # the logits themselves would not pass


# -- the standard GAN's losses on known scores ---------------------------------------------
def test_standard_gan_critic_calls_reals_real_and_fakes_fake_on_known_scores():
    """d_loss("ns") is BCE(sigmoid(D(x)), 1) + BCE(sigmoid(D(G)), 0), each averaged over its
    batch: known scores, the answer written out term by term; g_loss("ns") is
    BCE(sigmoid(D(G)), 1)."""
    r, f = [0.0, 2.0, -1.0], [1.0, -3.0]

    def sig(s):
        return 1 / (1 + math.exp(-s))

    want_d = (sum(-math.log(sig(s)) for s in r) / len(r)
              + sum(-math.log(1 - sig(s)) for s in f) / len(f))
    got = d_loss("ns", torch.tensor(r, dtype=torch.float64), torch.tensor(f, dtype=torch.float64))
    assert float(got) == pytest.approx(want_d, rel=1e-12)
    # fakes called real instead would give a different value
    wrong = (sum(-math.log(sig(s)) for s in r) / len(r)
             + sum(-math.log(sig(s)) for s in f) / len(f))
    assert abs(wrong - want_d) > 0.1
    want_g = sum(-math.log(sig(s)) for s in f) / len(f)
    assert float(g_loss(torch.tensor(f, dtype=torch.float64), "ns")) == pytest.approx(
        want_g, rel=1e-12)


# -- ClusterGAN -----------------------------------------------------------------------------------
def clustergan_ge_definition(nets, cfg, z, c):
    """G and E's loss on ``nets``: -mean D(G) + beta_n mean over batch and entries of
    (z_n - E_n(G))^2 + beta_c mean of -log softmax(E_c(G))[c]."""
    x = nets.G(z, c)
    zn_hat, logits = nets.E(x)
    p = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
    ce = -torch.log(p[torch.arange(len(c)), c]).mean()
    return -nets.D(x).mean() + cfg.beta_n * ((z - zn_hat) ** 2).mean() + cfg.beta_c * ce


def test_clustergan_g_and_e_step_minimises_its_definition(tiny_data, tmp_path, monkeypatch,
                                                          float64):
    """The 5th iteration of an epoch: a critic step, then one Adam step on G and E together
    whose loss equals the definition in value and in gradient (G's and E's parameters), on the
    step's own fresh latents. Either reconstruction term left out, or z_n reconstructed
    against another sample's z, makes it differ."""
    tr = float64_trainer(tiny_data, tmp_path, monkeypatch, "clustergan", g_batch_size=8,
                         d_batch_size=6, **BETAS)
    cfg = tr.cfg
    assert (cfg.gan_loss, cfg.critic, cfg.beta_n, cfg.beta_c) == ("wgan-gp", 5, 3.0, 7.0)
    rec = Recorder(tr, monkeypatch)
    tr.method.train_iteration(0, 4)
    assert [s[0] for s in rec.steps] == ["D", "G"]
    assert [len(z) for z, _ in rec.latents] == [6, 8]
    _, nets, loss, grads = rec.steps[1]
    z, c = rec.latents[1]
    want = clustergan_ge_definition(nets, cfg, z, c)
    assert_matches("G", loss, grads, want, [*nets.G.parameters(), *nets.E.parameters()])

    # the check can tell: each weighted term is far above the tolerance, and so is the
    # reconstruction against the batch reversed
    with torch.no_grad():
        zn_hat, logits = nets.E(nets.G(z, c))
    l_n, l_c = ((z - zn_hat) ** 2).mean(), F.cross_entropy(logits, c)
    flipped = ((z.flip(0) - zn_hat) ** 2).mean()
    assert cfg.beta_n * float(l_n) > 1e-4 and cfg.beta_c * float(l_c) > 1e-2
    assert cfg.beta_n * abs(float(flipped - l_n)) > 1e-6


@pytest.mark.parametrize("beta_n", [3.0, 0.0])
def test_clustergan_evaluation_reads_z_n_and_the_class_softmax_of_e(tiny_data, tmp_path,
                                                                    beta_n):
    """The features of E on real images: [E_n, softmax(E_c)] (softmax(E_c) alone with beta_n
    0, the official Fashion-MNIST evaluation); the last K of each row sum to 1 and equal the
    softmax of E's class logits."""
    tr = Trainer(config(tiny_data, tmp_path, "clustergan", beta_n=beta_n, beta_c=7.0),
                 MNIST_DIR)
    nets, cfg = tr.nets, tr.cfg
    enc, read = ClusterGAN.eval_encoder(nets, cfg)
    enc.eval()
    x = tr.next_real()
    with torch.no_grad():
        feats = read(enc(x)).double()
        zn, logits = nets.E(x)
    zn, logits = zn.double(), logits.double()
    p = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
    want = torch.cat([zn, p], 1) if beta_n > 0 else p
    k = cfg.zc_dim
    assert feats.shape == want.shape
    assert torch.allclose(feats[:, -k:].sum(1), torch.ones(len(x), dtype=torch.float64),
                          atol=1e-6)
    assert torch.allclose(feats, want, atol=1e-6)
    assert not torch.allclose(logits.sum(1), torch.ones(len(x), dtype=torch.float64),
                              atol=1e-3)  # the logits themselves would not pass
