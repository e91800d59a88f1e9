"""Mathieu et al. 2016 (``--method=mathieu16``): same-class pairs, the D-accuracy gate, the KL
term, the losses of each step against their definitions and which networks each step moves,
the swap grid, what the E-based evaluation reads, the published settings, train + test.py +
figures, resume equals uninterrupted."""

import copy
import os

import pytest
import torch
import torch.nn.functional as F

from codegan import checkpoint as ckpt_io
from codegan.config import load_config
from codegan.errors import UserError
from codegan.evaluation import split_codes
from codegan.methods import mathieu16 as m16
from codegan.nets import mathieu16 as m16n
from codegan.training import cli
from codegan.training.loop import Trainer
from conftest import REPO, TINY, run_interrupted

MNIST_DIR = os.path.join(REPO, "MNIST")
CIFAR_DIR = os.path.join(REPO, "CIFAR-10")
FAST = {"method": "mathieu16", "probe_epochs": 1}


def config(data_root, out, folder=MNIST_DIR, **over):
    return load_config(os.path.join(folder, "param.yml"),
                       {**TINY, **FAST, "data_root": data_root, "out": str(out), **over})


def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def moved(before, module):
    return {k for k, v in module.named_parameters() if not torch.equal(before[k], v)}


# -- pairs, gate, KL ---------------------------------------------------------------------------
def test_pairs_are_always_of_one_class_and_spread_over_it():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 7, (500,), generator=g)
    labels[labels == 3] = 4  # a class without images, and uneven class sizes
    sampler = m16.PairSampler(labels, 32, seed=1)
    seen = []
    partners = set()
    for _ in range(sampler.stream.iters_per_epoch):
        i1, i2 = sampler.next()
        assert i1.shape == i2.shape == (32,)
        assert torch.equal(labels[i1], labels[i2])
        seen.append(i1)
        partners.update(i2.tolist())
    first = torch.cat(seen)
    assert len(set(first.tolist())) == len(first)  # one shuffled pass, no repeats
    assert len(partners) > 250  # partners drawn across each class, not one per class


def passes(sampler, n):
    """``n`` passes of ``sampler`` as (i1, i2) tensors of shape (n, batches per pass, B)."""
    i1, i2 = zip(*(sampler.next() for _ in range(n * sampler.iters_per_pass)))
    shape = (n, sampler.iters_per_pass, -1)
    return torch.stack(i1).view(shape), torch.stack(i2).view(shape)


def test_by_default_every_pass_replays_the_first_passs_batches_and_partners():
    """The reference cycles its DataLoader (itertools.cycle keeps the first pass): the same
    batches in the same order with the same partners, pass after pass. With
    ``fresh_passes`` each pass has its own shuffle and its own partners; the first pass is
    the same draw either way."""
    labels = torch.arange(400) % 5
    i1, i2 = passes(m16.PairSampler(labels, 16, seed=2), 3)
    f1, f2 = passes(m16.PairSampler(labels, 16, seed=2, fresh_passes=True), 3)
    for p in (1, 2):
        assert torch.equal(i1[p], i1[0]) and torch.equal(i2[p], i2[0])
        assert not torch.equal(f1[p], f1[0]) and not torch.equal(f2[p], f2[0])
        assert (f2[p] != f2[0]).float().mean() > 0.5  # new partners, not only a new order
    assert torch.equal(i1[0], f1[0]) and torch.equal(i2[0], f2[0])
    assert torch.equal(labels[i1], labels[i2]) and torch.equal(labels[f1], labels[f2])


@pytest.mark.parametrize("fresh", [False, True])
def test_the_pair_stream_resumes_where_it_stopped(fresh):
    labels = torch.arange(40) % 4
    a = m16.PairSampler(labels, 8, seed=3, fresh_passes=fresh)
    for _ in range(7):  # into the second pass (5 batches a pass)
        a.next()
    b = m16.PairSampler(labels, 8, seed=3, fresh_passes=fresh)  # rebuilt from the seed
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    for _ in range(6):
        for x, y in zip(a.next(), b.next()):
            assert torch.equal(x, y)
    with pytest.raises(UserError, match=f"mathieu_fresh_passes={str(fresh).lower()}"):
        m16.PairSampler(labels, 8, seed=3, fresh_passes=not fresh).load_state_dict(
            a.state_dict())


def test_the_kl_term_is_the_closed_form_over_the_batch_pixels():
    torch.manual_seed(0)
    mu, logvar = torch.randn(6, 5), torch.randn(6, 5)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(6, 5), torch.ones(6, 5))
    want = torch.distributions.kl_divergence(q, p).sum() / (6 * 784)
    assert torch.allclose(m16.kl_normal(mu, logvar, 6 * 784), want, atol=1e-7)
    assert float(m16.kl_normal(torch.zeros(3, 2), torch.zeros(3, 2), 10)) == 0.0


def test_d_accuracy_counts_real_pairs_called_real_and_fakes_called_fake():
    real = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0], [0.0, 3.0]])  # 3 of 4 right
    fake = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])  # 3 of 4 right
    assert float(m16.pair_accuracy(real, fake)) == 0.75


@pytest.mark.parametrize("acc, steps", [(0.85, False), (0.8, False), (0.75, True)])
def test_d_steps_only_while_its_batch_accuracy_is_below_the_limit(acc, steps, tiny_data,
                                                                  tmp_path, monkeypatch):
    tr = Trainer(config(tiny_data, tmp_path), MNIST_DIR)
    m, nets = tr.method, tr.nets
    assert m.cfg.d_acc_limit == 0.8
    monkeypatch.setattr(m16, "pair_accuracy", lambda r, f: torch.tensor(acc))
    d0 = params(nets.D)
    logs = m.d_step()
    assert bool(moved(d0, nets.D)) == steps and float(logs["D/stepped"]) == float(steps)
    assert bool(tr.opt["D"].state) == steps  # a skipped step leaves Adam's state untouched


# -- the steps -----------------------------------------------------------------------------------
def replay(m, fn):
    """Run ``fn`` with the RNG and pair stream as they are now, then put both back."""
    rng, pairs = torch.get_rng_state(), copy.deepcopy(m.pairs.state_dict())
    out = fn()
    torch.set_rng_state(rng)
    m.pairs.load_state_dict(pairs)
    return out


def test_the_autoencoder_step_is_its_definition_and_moves_e_and_the_decoder(tiny_data,
                                                                           tmp_path,
                                                                           monkeypatch):
    """What the autoencoder's Adam minimises is ||Dec(z1, s1) - x1||^2 + ||Dec(z1, s2) - x1||^2
    (means over the pixels) + KL(z1): its gradient on E and the decoder equals the gradient of
    that definition, computed independently in float64 (E's mu and logvar heads are shifted
    first, so that the KL term's share of the gradient is far above float32 rounding)."""
    tr = Trainer(config(tiny_data, tmp_path), MNIST_DIR)
    m, nets = tr.method, tr.nets
    with torch.no_grad():
        nets.E.mu.bias.add_(0.5)
        nets.E.logvar.bias.add_(0.7)
    E0, G0 = (copy.deepcopy(n).double() for n in (nets.E, nets.G))
    mine = [*E0.parameters(), *G0.parameters()]

    def by_hand():
        x1, x2 = (x.double() for x in m.next_pair())
        mu, logvar, s1 = E0(x1)
        z = mu + torch.randn(mu.shape).double() * torch.exp(0.5 * logvar)  # float32 draws
        s2 = E0(x2)[2]
        rec = ((G0(z, s1) - x1) ** 2).mean() + ((G0(z, s2) - x1) ** 2).mean()
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum() / (len(x1) * 784)
        return (rec, kl, torch.autograd.grad(rec + kl, mine, retain_graph=True),
                torch.autograd.grad(rec, mine))

    rec, kl, want, without_kl = replay(m, by_hand)
    theirs = [*nets.E.parameters(), *nets.G.parameters()]
    got, minimize = {}, m.minimize

    def spy(name, loss):
        got[name] = torch.autograd.grad(loss, theirs, retain_graph=True)
        minimize(name, loss)

    monkeypatch.setattr(m, "minimize", spy)
    snap = {n: params(getattr(nets, n)) for n in "EGD"}
    logs = m.ae_step()
    assert set(got) == {"AE"}
    flat = lambda gs: torch.cat([g.flatten() for g in gs])  # noqa: E731
    g, w, w0 = flat(got["AE"]).double(), flat(want), flat(without_kl)
    err = float((g - w).norm() / w.norm())
    assert err < 1e-4, err
    assert float((w - w0).norm() / w.norm()) > 100 * err  # the KL term is visible above it
    assert torch.allclose(logs["AE/rec"].double(), rec.detach(), atol=1e-6)
    assert torch.allclose(logs["AE/KL"].double(), kl.detach(), atol=1e-7)
    assert moved(snap["E"], nets.E) and moved(snap["G"], nets.G) and not moved(snap["D"], nets.D)
    assert set(tr.opt) == {"AE", "G", "D"} and tr.opt["AE"].state and not tr.opt["G"].state


def test_the_generator_step_is_its_definition_and_moves_e_and_the_decoder(tiny_data,
                                                                         tmp_path,
                                                                         monkeypatch):
    """What G's Adam minimises is CE(D(xb, Dec(za, sb)), real) + CE(D(xb, Dec(n, sb)), real)
    + KL(za): its gradient on E and the decoder equals the gradient of that definition,
    computed independently in float64 (E's mu and logvar heads are shifted first, so that the
    KL term's share of the gradient is far above float32 rounding)."""
    tr = Trainer(config(tiny_data, tmp_path), MNIST_DIR)
    m, nets = tr.method, tr.nets
    with torch.no_grad():
        nets.E.mu.bias.add_(0.5)
        nets.E.logvar.bias.add_(0.7)
    E0, G0, D0 = (copy.deepcopy(n).double() for n in (nets.E, nets.G, nets.D))
    mine = [*E0.parameters(), *G0.parameters()]

    def by_hand():
        xa, xb = m.next_single().double(), m.next_single().double()
        mu, logvar, _ = E0(xa)
        z = mu + torch.randn(mu.shape).double() * torch.exp(0.5 * logvar)  # float32 draws
        sb = E0(xb)[2]
        real = torch.ones(len(xb), dtype=torch.long)
        gan = F.cross_entropy(D0(xb, G0(z, sb)), real) + \
            F.cross_entropy(D0(xb, G0(torch.randn(z.shape).double(), sb)), real)
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum() / (len(xa) * 784)
        return (gan, kl, torch.autograd.grad(gan + kl, mine, retain_graph=True),
                torch.autograd.grad(gan, mine))

    gan, kl, want, without_kl = replay(m, by_hand)
    theirs = [*nets.E.parameters(), *nets.G.parameters()]
    got = {}
    minimize = m.minimize

    def spy(name, loss):
        got[name] = torch.autograd.grad(loss, theirs, retain_graph=True)
        minimize(name, loss)

    monkeypatch.setattr(m, "minimize", spy)
    snap = {n: params(getattr(nets, n)) for n in "EGD"}
    logs = m.g_step()
    assert set(got) == {"G"}
    flat = lambda gs: torch.cat([g.flatten() for g in gs])  # noqa: E731
    g, w, w0 = flat(got["G"]).double(), flat(want), flat(without_kl)
    err = float((g - w).norm() / w.norm())
    assert err < 1e-4, err
    assert float((w - w0).norm() / w.norm()) > 100 * err  # the KL term is visible above it
    assert torch.allclose(logs["G/gan"].double(), gan.detach(), atol=1e-5)
    assert torch.allclose(logs["G/KL"].double(), kl.detach(), atol=1e-6)
    assert moved(snap["E"], nets.E) and moved(snap["G"], nets.G) and not moved(snap["D"], nets.D)
    assert tr.opt["G"].state and not tr.opt["AE"].state


def test_the_d_step_is_its_definition_and_moves_d_alone(tiny_data, tmp_path):
    tr = Trainer(config(tiny_data, tmp_path, d_acc_limit=1.5), MNIST_DIR)  # always steps
    m, nets = tr.method, tr.nets
    E0, G0, D0 = copy.deepcopy(nets.E), copy.deepcopy(nets.G), copy.deepcopy(nets.D)

    def by_hand():
        xa = m.next_single()
        xp, xq = m.next_pair()
        fake = G0(E0(xa)[0], E0(xq)[2])  # z: the mean, not a sample
        one = torch.ones(len(xq), dtype=torch.long)
        return F.cross_entropy(D0(xp, xq), one) + F.cross_entropy(D0(xq, fake), 0 * one)

    loss = replay(m, by_hand)
    snap = {n: params(getattr(nets, n)) for n in "EGD"}
    logs = m.d_step()
    assert torch.allclose(logs["D/loss"], loss.detach(), atol=1e-6)
    assert moved(snap["D"], nets.D) and not moved(snap["E"], nets.E) \
        and not moved(snap["G"], nets.G)


def test_an_iteration_is_one_autoencoder_two_generator_and_one_d_step(tiny_data, tmp_path,
                                                                      monkeypatch):
    tr = Trainer(config(tiny_data, tmp_path), MNIST_DIR)
    calls = []
    for step in ("ae_step", "g_step", "d_step"):
        orig = getattr(tr.method, step)
        monkeypatch.setattr(tr.method, step,
                            lambda orig=orig, step=step: calls.append(step) or orig())
    logs = tr.train_iteration()
    assert calls == ["ae_step", "g_step", "g_step", "d_step"]
    assert {"AE/rec", "AE/KL", "G/gan", "G/KL", "D/loss", "D/acc", "D/stepped"} <= set(logs)


# -- networks and the swap grid ------------------------------------------------------------------
@pytest.mark.parametrize("z_dim, s_dim", [(16, 16), (64, 64)])
def test_the_networks_have_the_official_shapes(z_dim, s_dim):
    E, dec, D = m16n.Encoder(z_dim, s_dim), m16n.Decoder(z_dim, s_dim), m16n.SameClassPairDiscriminator()
    x = torch.rand(3, 1, 28, 28)
    mu, logvar, s = E(x)
    assert mu.shape == logvar.shape == (3, z_dim) and s.shape == (3, s_dim)
    y = dec(mu, s)
    assert y.shape == (3, 1, 28, 28) and 0 <= float(y.min()) and float(y.max()) <= 1
    assert D(x, y).shape == (3, 2)
    # the official weights_init: N(0, 0.05) conv and linear weights, zero biases
    assert float(D.fc.weight.std()) == pytest.approx(0.05, rel=0.2)
    assert float(E.s.bias.abs().max()) == 0.0


def test_eval_mode_normalises_with_each_images_statistics_or_the_running_ones():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, 5) * 3 + 2
    inst, run = m16n.InstanceNorm(3, True), m16n.InstanceNorm(3, False)
    inst.eval(), run.eval()
    assert torch.allclose(inst(x), F.instance_norm(x), atol=1e-5)
    assert torch.allclose(run(x), x / (1 + 1e-5) ** 0.5, atol=1e-5)  # running mean 0, var 1
    assert set(inst.state_dict()) == set(torch.nn.InstanceNorm2d(3, track_running_stats=True)
                                         .state_dict())


def test_the_swap_grid_puts_z_of_the_rows_with_s_of_the_columns():
    torch.manual_seed(0)
    E, dec = m16n.Encoder(4, 3).eval(), m16n.Decoder(4, 3).eval()
    x_z, x_s = torch.rand(2, 1, 28, 28), torch.rand(5, 1, 28, 28)
    grid = split_codes.swap_grid(E, dec, x_z, x_s)
    assert grid.shape == (3 * 6, 1, 28, 28)
    cells = grid.view(3, 6, 1, 28, 28)
    assert torch.equal(cells[0, 1:], x_s) and torch.equal(cells[1:, 0], x_z)
    with torch.no_grad():
        assert torch.allclose(cells[2, 4], dec(E(x_z[1:2])[0], E(x_s[3:4])[2])[0], atol=1e-6)
    y = torch.tensor([3, 1, 3, 0, 1, 2])
    rows, cols = split_codes.swap_images(torch.arange(6), y, 4)
    assert cols.tolist() == [3, 1, 5, 0] and rows.tolist() == [3, 4, 5, 2]


def test_the_e_based_evaluation_reads_s_not_z():
    """The E-based k-means clusters the specified code s of E (not z's mean), read through the
    evaluation's own encoder function."""
    from types import SimpleNamespace

    from codegan.evaluation.e_based import eval_encoder

    torch.manual_seed(0)
    E = m16n.Encoder(16, 16).eval()
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        mu, _, s = E(x)
    got = eval_encoder(SimpleNamespace(E=E), SimpleNamespace(method="mathieu16"), "cpu")(x)
    assert got.shape == (5, 16)
    assert torch.allclose(got, s, atol=1e-5) and not torch.allclose(got, mu, atol=1e-2)


# -- settings ------------------------------------------------------------------------------------
def test_the_published_settings_and_the_64_64_codes(tiny_data, tmp_path):
    cfg = load_config(os.path.join(MNIST_DIR, "param.yml"), {"method": "mathieu16"})
    assert (cfg.lr, cfg.adam_betas, cfg.d_batch_size, cfg.max_step, cfg.zn_dim, cfg.s_dim,
            cfg.g_steps, cfg.d_acc_limit) == (1e-4, [0.5, 0.999], 64, 50, 16, 16, 2, 0.8)
    tr = Trainer(config(tiny_data, tmp_path, zn_dim=64, s_dim=64), MNIST_DIR)
    assert tr.nets.E.mu.out_features == 64 and tr.nets.G.s_in.in_features == 64
    assert not tr.nets.encoders() and tr.G_ema is None
    with pytest.raises(UserError, match="reference's MNIST ones"):
        load_config(os.path.join(CIFAR_DIR, "param.yml"), {"method": "mathieu16"})
    with pytest.raises(UserError, match="use_ema: false"):
        config(tiny_data, tmp_path, use_ema=True)


# -- runs ----------------------------------------------------------------------------------------
def test_train_py_and_test_py_and_the_figures(tiny_data, tmp_path, capsys):
    run = cli.train_main(MNIST_DIR, ["--method=mathieu16", "--max_iters=2", "--probe_epochs=1",
                                     f"--data_root={tiny_data}", f"--out={tmp_path / 'runs'}",
                                     "--d_batch_size=8", "--kmeans_runs=1", "--device=cpu",
                                     "--progress=false"])
    assert os.path.basename(run) == "00000-mnist-mathieu16"
    assert os.path.isfile(os.path.join(run, "samples", "grid-00000002.png"))  # the swap grid
    log = open(os.path.join(run, "log.txt")).read()
    assert "MLP classifier accuracy" in log and "98.52" in log
    ck = ckpt_io.list_checkpoints(run)[-1]
    res = cli.test_main(MNIST_DIR, [f"--checkpoint={ck}", f"--data_root={tiny_data}",
                                    "--kmeans_runs=1", "--device=cpu"])
    assert "mathieu16" in res["protocol"] and res["probe_setting"] == "mnist z16/s16"
    for key in ("acc", "nmi", "ari", "probe_s_train", "probe_s_test", "probe_z_train",
                "probe_z_test"):
        assert 0.0 <= res[key] <= 1.0
    out = capsys.readouterr().out
    assert "published test %" in out and "66.83" in out
    paths = split_codes.main([f"--checkpoint={ck}", f"--out={tmp_path / 'fig'}",
                              "--tsne_per_class=4", f"--data_root={tiny_data}", "--device=cpu"])
    assert all(os.path.isfile(p) for p in paths.values()) and set(paths) == {"swap", "tsne"}
    # the comparison report's grid and t-SNE features (real test images: no prior to sample)
    from codegan.evaluation import compare_report as rep

    rep.method_grid(ck, str(tmp_path / "fig" / "grid.png"), "cpu")
    feats, labels = rep.fake_features(ck, 2, "cpu")
    assert feats.shape == (20, 16) and sorted(labels.tolist()) == sorted(list(range(10)) * 2)
    from codegan.evaluation.sampling import load_generator

    with pytest.raises(UserError, match="draws no samples from a prior"):
        load_generator(ck, "cpu")


@pytest.mark.parametrize("fresh", [False, True])
def test_resume_equals_uninterrupted(fresh, tiny_data, tmp_path, monkeypatch):
    """64 training images, batch 8: 8 batches a pass, 7 an iteration, so the run stops in the
    middle of the second pass (batch 14) and ends in the fifth (batch 35)."""
    over = dict(max_iters=5, mathieu_fresh_passes=fresh)
    full = Trainer(config(tiny_data, tmp_path / "a", **over), MNIST_DIR).run()
    tr = Trainer(config(tiny_data, tmp_path / "b", **over), MNIST_DIR)
    # Ctrl-C during iteration 2: evaluation (probes) and checkpoint there
    ck = ckpt_io.list_checkpoints(run_interrupted(tr, 2, monkeypatch))[-1]
    assert ck.endswith("ckpt-00000002.pt")
    resumed = Trainer(config(tiny_data, tmp_path / "b", mathieu_fresh_passes=fresh), MNIST_DIR,
                      resume=ck,
                      resume_overrides={"max_iters": 5}).run()
    a = torch.load(ckpt_io.list_checkpoints(full)[-1], weights_only=True)
    r = torch.load(ckpt_io.list_checkpoints(resumed)[-1], weights_only=True)
    assert r["iteration"] == 5 and r["config"]["method"] == "mathieu16"
    assert set(a["nets"]) == set(r["nets"]) and any(k.startswith("E.") for k in a["nets"])
    for k, v in a["nets"].items():  # weights and InstanceNorm running statistics
        assert torch.equal(v, r["nets"][k]), k
    for name in ("AE", "G", "D"):
        for pid, st in a["optim"][name]["state"].items():
            assert torch.equal(st["exp_avg"], r["optim"][name]["state"][pid]["exp_avg"])
    if fresh:
        assert torch.equal(a["pairs"]["gen"], r["pairs"]["gen"])
    else:
        assert a["pairs"] == r["pairs"] == {"fresh_passes": False, "pos": 35}


def test_speed_switches(tiny_data, tmp_path):
    """bf16 autocast, channels_last and fused Adam: the losses stay finite and float32."""
    tr = Trainer(config(tiny_data, tmp_path, precision="bf16", channels_last=True,
                        fused_adam=True), MNIST_DIR)
    for _ in range(2):
        losses = tr.train_iteration()
    assert losses and all(torch.isfinite(v).all() and v.dtype == torch.float32
                          for v in losses.values())
