"""ConGAN (``--method=congan``, framework 2 of "Improving Latent Space of GANs"): conditional
BatchNorm, SimSiam's loss and its stop-gradient, the consistency schedule, what each step
minimises against its definition, the order of the steps, what the E-based evaluation reads,
sampling without real images, train + test.py, resume equals uninterrupted, and SimSiam
pre-training through pretrain.py."""

import copy
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from codegan import checkpoint as ckpt_io
from codegan.config import load_config
from codegan.errors import UserError
from codegan.methods import congan as cg
from codegan.nets import congan as cgn
from codegan.pretraining.simclr import SimSiamPretrainer, make_pretrainer, simsiam_loss
from codegan.training import cli
from codegan.training.loop import Trainer
from conftest import REPO, load_script, run_interrupted

CIFAR_DIR = os.path.join(REPO, "CIFAR-10")
MNIST_DIR = os.path.join(REPO, "MNIST")
# tiny networks and batches; every run is a couple of iterations on the CPU
SMALL = {"method": "congan", "d_batch_size": 8, "g_batch_size": 8, "critic": 2,
         "congan_channels": 8, "congan_hidden": 16, "fc_dim": 16, "zn_dim": 24,
         "kmeans_runs": 1, "progress": False, "max_iters": 2, "device": "cpu",
         "congan_fit_images": 32, "eval_batch_size": 16, "num_threads": 1}


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    """A tiny random cifar10.npz (48 train, 16 test) and a SimSiam encoder pre-trained on it
    for 2 iterations (``pretrained/E_c_simsiam.pt`` under the returned folder)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    np.savez(root / "cifar10.npz", x_train=rng.integers(0, 256, (48, 32, 32, 3), dtype=np.uint8),
             y_train=np.arange(48) % 10, x_test=rng.integers(0, 256, (16, 32, 32, 3),
                                                             dtype=np.uint8),
             y_test=np.arange(16) % 10)
    enc = root / "E_c_simsiam.pt"
    cfg = load_config(os.path.join(CIFAR_DIR, "param.yml"), {
        "data_root": str(root), "pretrain_loss": "simsiam", "pretrain_path": str(enc),
        "pretrain_iters": 2, "pretrain_batch_size": 8, "fc_dim": 16, "kmeans_runs": 1,
        "progress": False, "device": "cpu", "num_threads": 1})
    SimSiamPretrainer(cfg, CIFAR_DIR).run()
    return str(root)


def config(root, out, **over):
    return load_config(os.path.join(CIFAR_DIR, "param.yml"), {
        **SMALL, "data_root": root, "out": str(out),
        "congan_encoder_path": os.path.join(root, "E_c_simsiam.pt"), **over})


# -- pieces ------------------------------------------------------------------------------------
def test_conditional_batchnorm_with_gamma_one_beta_zero_is_a_plain_batchnorm():
    torch.manual_seed(0)
    cbn = cgn.CondBatchNorm2d(5, 7, init="identity")
    bn = torch.nn.BatchNorm2d(5)  # gamma 1, beta 0
    x, r = torch.randn(6, 5, 4, 4) * 3 + 1, torch.randn(6, 7)
    assert torch.allclose(cbn(x, r), bn(x), atol=1e-6)  # train mode: batch statistics
    assert torch.allclose(cbn.bn.running_mean, bn.running_mean)
    cbn.eval(), bn.eval()
    assert torch.allclose(cbn(x, r), bn(x), atol=1e-6)  # eval: running statistics
    # any embedding that yields gamma 1, beta 0 for this r: a plain BatchNorm too
    off = cgn.CondBatchNorm2d(5, 7, init="official").eval()
    off.bn.load_state_dict(cbn.bn.state_dict())
    with torch.no_grad():
        off.embed.weight.normal_()
        gb = off.embed(r)
        off.embed.bias.sub_(gb.mean(0) - torch.cat([torch.ones(5), torch.zeros(5)]))
        r1 = r[:1].expand(6, 7)  # one conditioning for the batch: gamma 1, beta 0 exactly
        off.embed.bias.sub_(off.embed(r1)[0] - torch.cat([torch.ones(5), torch.zeros(5)]))
    assert torch.allclose(off(x, r1), bn(x), atol=1e-5)
    # the official init: the weight's first C input columns N(1, 0.02), the others 0
    w = cgn.CondBatchNorm2d(4, 9, init="official").embed.weight.detach()
    assert torch.all(w[:, 4:] == 0) and abs(float(w[:, :4].mean()) - 1) < 0.05


def test_conditional_batchnorm_scales_and_shifts_each_sample_by_its_representation():
    cbn = cgn.CondBatchNorm2d(3, 2, init="identity").eval()
    with torch.no_grad():
        cbn.embed.weight.zero_()
        cbn.embed.weight[0, 0] = 2.0  # gamma_0 = 1 + 2 r_0
        cbn.embed.weight[3, 1] = 1.0  # beta_0 = r_1
    x, r = torch.randn(2, 3, 2, 2), torch.tensor([[1.0, 0.5], [0.0, -1.0]])
    want = cbn.bn(x).clone()
    want[:, 0] = want[:, 0] * torch.tensor([3.0, 1.0])[:, None, None] + \
        torch.tensor([0.5, -1.0])[:, None, None]
    assert torch.allclose(cbn(x, r), want, atol=1e-6)


def test_simsiam_loss_is_its_definition_and_no_gradient_reaches_the_targets():
    torch.manual_seed(0)
    p1, p2, z1, z2 = (torch.randn(5, 6, requires_grad=True) for _ in range(4))
    want = -0.5 * (F.normalize(p1, dim=1) * F.normalize(z2, dim=1)).sum(1).mean() \
        - 0.5 * (F.normalize(p2, dim=1) * F.normalize(z1, dim=1)).sum(1).mean()
    loss = simsiam_loss(p1, p2, z1, z2)
    assert torch.allclose(loss, want, atol=1e-6)
    loss.backward()
    assert p1.grad is not None and p1.grad.abs().sum() > 0 and p2.grad.abs().sum() > 0
    assert z1.grad is None and z2.grad is None  # stop-gradient on the target branch
    # through a shared encoder: the gradient is the predictor branch's alone
    enc = torch.nn.Linear(4, 6)
    x1, x2 = torch.randn(5, 4), torch.randn(5, 4)
    pred = torch.nn.Linear(6, 6)
    a, b = enc(x1), enc(x2)
    simsiam_loss(pred(a), pred(b), a, b).backward()
    g_full = enc.weight.grad.clone()
    enc.weight.grad = None
    a, b = enc(x1), enc(x2)
    ad, bd = a.detach(), b.detach()
    (0.5 * -F.cosine_similarity(pred(a), bd).mean()
     - 0.5 * F.cosine_similarity(pred(b), ad).mean()).backward()
    assert torch.allclose(g_full, enc.weight.grad, atol=1e-6)
    assert float(simsiam_loss(z1, z2, z2, z1).detach()) == pytest.approx(-1.0, abs=1e-6)


@pytest.mark.parametrize("epoch,kappa", [(0, 0.0), (29, 0.0), (30, 0.1), (59, 0.1), (60, 1.0),
                                         (89, 1.0), (200, 1.0)])
def test_the_consistency_schedule_is_0_then_0_1_then_1_by_epochs(epoch, kappa):
    m = cg.ConGAN
    assert cg.kappa_at(epoch, m.settings["congan_kappa_epochs"].default,
                       m.settings["congan_kappa"].default) == kappa


def test_the_schedule_follows_the_loops_epochs(cifar_root, tmp_path):
    tr = Trainer(config(cifar_root, tmp_path, congan_kappa_epochs=[1, 2],
                        congan_kappa=[0.0, 0.1, 1.0], max_iters=3), CIFAR_DIR)
    # 48 images / batch 8 = 6 batches a pass; an iteration draws 1 + 2 * critic = 5 of them
    assert tr.iters_per_epoch == 1
    seen = [float(tr.train_iteration()["G/kappa"]) for _ in range(3)]
    assert seen == pytest.approx([0.0, 0.1, 1.0])
    lrs = [g["lr"] for g in tr.opt["G"].param_groups]
    assert lrs == pytest.approx([5e-4 * 0.98 ** 2])


def test_the_published_settings_and_bad_input(cifar_root, tmp_path):
    cfg = load_config(os.path.join(CIFAR_DIR, "param.yml"), {"method": "congan"})
    assert (cfg.lr, cfg.adam_betas, cfg.d_batch_size, cfg.critic, cfg.gan_loss, cfg.max_step) \
        == (5e-4, [0.0, 0.9], 128, 5, "hinge", 90)
    assert cfg.zn_dim - cfg.fc_dim == 512 and cfg.congan_kappa == [0.0, 0.1, 1.0]
    with pytest.raises(UserError, match="colour ones"):
        load_config(os.path.join(MNIST_DIR, "param.yml"), {"method": "congan"})
    with pytest.raises(UserError, match="one value more"):
        config(cifar_root, tmp_path, congan_kappa=[0.0, 1.0, 1.0, 1.0])
    with pytest.raises(UserError, match="noise plus"):
        config(cifar_root, tmp_path, zn_dim=16)
    with pytest.raises(UserError, match="pretrain_loss=simsiam"):
        Trainer(config(cifar_root, tmp_path, congan_encoder_path="nowhere.pt"), CIFAR_DIR)


# -- steps ---------------------------------------------------------------------------------------
def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def moved(before, module):
    return {k for k, v in module.named_parameters() if not torch.equal(before[k], v)}


def float64_copies(nets):
    """Float64 copies of S, G, D and Q as they are now (modes, spectral-norm vectors and all)."""
    return {n: copy.deepcopy(getattr(nets, n)).double() for n in ("S", "G", "D", "Q")}


def spy_minimize(m, monkeypatch, params_of):
    """Record, for each optimiser stepped, the gradient on ``params_of[name]`` of the loss it
    minimises (then step as usual)."""
    got, minimize = {}, m.minimize

    def spy(name, loss):
        got[name] = grad_of(loss, params_of[name], keep=True)
        minimize(name, loss)

    monkeypatch.setattr(m, "minimize", spy)
    return got


def grad_of(loss, ps, keep=False):
    """The gradient of ``loss`` on ``ps``, flattened into one vector (zeros where unused)."""
    gs = torch.autograd.grad(loss, ps, retain_graph=keep, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten()
                      for g, p in zip(gs, ps)])


def rel(a, b):
    return float((a.double() - b).norm() / b.norm())


def test_the_g_step_minimises_its_definition_and_moves_g_alone(cifar_root, tmp_path,
                                                               monkeypatch):
    """The gradient on G of what G's Adam minimises equals, computed independently in float64
    from the same draws, that of -mean D(x_G) - k cos(S(x_G), r) - k cos(Q(h(x_G)), r), with
    r = S(x~) + 1e-5 n and x_G = G(z, r) + 0.01 n: both consistency terms count, and the S
    term's gradient reaches G through the frozen S."""
    # S on its running statistics: through the batch statistics of 8 random images, float32
    # rounding reaches 1-3 % of G's gradient, depending on the fixture's pre-trained S, as much
    # as the Q term itself; the step's maths (both terms, S frozen) is the same in either mode
    tr = Trainer(config(cifar_root, tmp_path, congan_encoder_bn="running"), CIFAR_DIR)
    m, nets, k = tr.method, tr.nets, 0.5
    before = {n: params(getattr(nets, n)) for n in ("G", "D", "Q", "S")}
    c64 = float64_copies(nets)
    S, G, D, Q = (c64[n] for n in ("S", "G", "D", "Q"))
    S.train(m.cfg.congan_encoder_bn == "batch")
    rng, stream = torch.get_rng_state(), tr.stream.state_dict()
    # by hand, the step's draws in its order (float32 draws, as the step's)
    real = tr.next_real().double() + 0.01 * torch.randn(8, 3, 32, 32).double()
    with torch.no_grad():
        r = S(real) + 1e-5 * torch.randn(8, 16).double()
    z, c = tr.latents(8)
    fake = G(z.double(), c, r)
    fake = fake + 0.01 * torch.randn_like(fake.float()).double()  # G's memory format
    h = D.features(fake)
    gan = -D.head(h).mean()
    l_s = -F.cosine_similarity(S(fake), r).mean()
    l_q = -F.cosine_similarity(Q(h), r).mean()
    mine = list(G.parameters())
    want = grad_of(gan + k * l_s + k * l_q, mine, keep=True)
    no_q = grad_of(gan + k * l_s, mine, keep=True)
    no_s = grad_of(gan + k * l_q, mine)  # also G's gradient when S(x_G) is cut from G
    torch.set_rng_state(rng)
    tr.stream.load_state_dict(stream)
    got = spy_minimize(m, monkeypatch, {"G": list(nets.G.parameters())})
    out = m.g_step(k)
    assert set(got) == {"G"}
    err = rel(got["G"], want)
    assert err < 1e-2, err  # float32 rounding of the step (measured 2e-3)
    assert rel(no_q, want) > 10 * err  # the Q term is far above the rounding
    assert rel(no_s, want) > 10 * err  # and so is the S term's gradient through S
    for key, v in (("G/gan", gan), ("G/cons_S", l_s), ("G/cons_Q", l_q)):
        assert abs(float(out[key]) - float(v.detach())) < 1e-5, key
    assert moved(before["G"], nets.G)
    assert not moved(before["D"], nets.D) and not moved(before["Q"], nets.Q)
    assert not moved(before["S"], nets.S)


def test_the_d_step_minimises_its_definition_and_moves_d_and_q(cifar_root, tmp_path,
                                                                monkeypatch):
    """The gradient on D and Q of what their Adam minimises equals, in float64 from the same
    draws, that of hinge(D(x), D(x_G)) + k/2 [-cos(Q(h(x)), S(x)) - cos(Q(h(x_G)), r)]: x a
    real batch with instance noise, r from another real batch; without k, no consistency."""
    tr = Trainer(config(cifar_root, tmp_path), CIFAR_DIR)
    m, nets, k = tr.method, tr.nets, 0.7
    b = {n: params(getattr(nets, n)) for n in ("G", "D", "Q", "S")}
    s_stats = {k_: v.clone() for k_, v in nets.S.state_dict().items() if "running" in k_}
    c64 = float64_copies(nets)
    S, G, D, Q = (c64[n] for n in ("S", "G", "D", "Q"))
    S.train(m.cfg.congan_encoder_bn == "batch")
    rng, stream = torch.get_rng_state(), tr.stream.state_dict()

    def noisy_real():
        return tr.next_real().double() + 0.01 * torch.randn(8, 3, 32, 32).double()

    real = noisy_real()
    with torch.no_grad():
        r = S(noisy_real()) + 1e-5 * torch.randn(8, 16).double()
        z, c = tr.latents(8)
        fake = G(z.double(), c, r)
        fake = fake + 0.01 * torch.randn_like(fake.float()).double()  # G's memory format
        r_real = S(real)
    h_real, h_fake = D.features(real), D.features(fake)
    hinge = F.relu(1 - D.head(h_real)).mean() + F.relu(1 + D.head(h_fake)).mean()
    cons_real = -F.cosine_similarity(Q(h_real), r_real).mean()
    cons_fake = -F.cosine_similarity(Q(h_fake), r).mean()
    cons = 0.5 * (cons_real + cons_fake)
    mine = [*D.parameters(), *Q.parameters()]
    want = grad_of(hinge + k * cons, mine, keep=True)
    other = grad_of(hinge + k * 0.5 * (-F.cosine_similarity(Q(h_real), r).mean() + cons_fake),
                    mine)  # r in place of S(x)
    torch.set_rng_state(rng)
    tr.stream.load_state_dict(stream)
    got = spy_minimize(m, monkeypatch, {"D": [*nets.D.parameters(), *nets.Q.parameters()]})
    out = m.d_step(k)
    assert m.cfg.gan_loss == "hinge" and set(got) == {"D"}
    err = rel(got["D"], want)
    assert err < 1e-4, err
    assert rel(other, want) > 100 * err  # the real images' own term is visible
    assert abs(float(out["D/cons"]) - float(cons)) < 1e-5
    assert abs(float(out["D/loss"]) - float(hinge)) < 1e-5
    assert moved(b["D"], nets.D) and moved(b["Q"], nets.Q)
    assert not moved(b["G"], nets.G) and not moved(b["S"], nets.S)
    # without k: no consistency term, Q untouched
    q0 = params(nets.Q)
    out = m.d_step(0.0)
    assert "D/cons" not in out and not moved(q0, nets.Q)
    # S normalises with batch statistics (official) but keeps its pre-trained running ones
    for k_, v in s_stats.items():
        assert torch.equal(v, nets.S.state_dict()[k_]), k_


def test_an_iteration_is_one_g_step_then_critic_d_steps(cifar_root, tmp_path, monkeypatch):
    """The official order: G's Adam steps first, then D's ``critic`` times (so the D steps'
    fakes come from the G just stepped)."""
    tr = Trainer(config(cifar_root, tmp_path, congan_kappa_epochs=[0],
                        congan_kappa=[0.0, 1.0]), CIFAR_DIR)
    calls, minimize = [], tr.method.minimize

    def spy(name, loss):
        calls.append(name)
        minimize(name, loss)

    monkeypatch.setattr(tr.method, "minimize", spy)
    logs = tr.train_iteration()
    assert tr.cfg.critic == 2 and calls == ["G", "D", "D"]
    assert float(logs["G/kappa"]) == 1.0 and {"G/cons_S", "G/cons_Q", "D/cons"} <= set(logs)


def test_the_e_based_evaluation_reads_q_on_d_features_or_s():
    """``congan_eval_features: q`` (the default) clusters Q(h(x)), D's estimate of the
    representation; ``simsiam`` clusters S(x); read through the E-based evaluation's own
    encoder function."""
    from types import SimpleNamespace

    from codegan.evaluation.e_based import eval_encoder

    torch.manual_seed(0)
    D, Q = cgn.ConDiscriminator(3, 8, 32).eval(), cgn.consistency_head(8, 16, 16).eval()
    S = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 16)).eval()
    nets = SimpleNamespace(S=S, D=D, Q=Q)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        q, s = Q(D.features(x)), S(x)
    cfg = load_config(os.path.join(CIFAR_DIR, "param.yml"), dict(SMALL))
    assert cfg.congan_eval_features == "q"
    for c, want, other in ((cfg, q, s), (cfg.replace(congan_eval_features="simsiam"), s, q)):
        got = eval_encoder(nets, c, "cpu")(x)
        assert torch.allclose(got, want, atol=1e-5), c.congan_eval_features
        assert not torch.allclose(got, other, atol=1e-2), c.congan_eval_features


# -- sampling and runs -----------------------------------------------------------------------------
def test_train_py_test_py_and_fakes_without_real_images(cifar_root, tmp_path, capsys):
    run = cli.train_main(CIFAR_DIR, [f"--{k}={v}" for k, v in SMALL.items()] + [
        f"--data_root={cifar_root}", f"--out={tmp_path / 'runs'}",
        f"--congan_encoder_path={os.path.join(cifar_root, 'E_c_simsiam.pt')}"])
    assert os.path.basename(run) == "00000-cifar10-congan"
    assert os.path.isfile(os.path.join(run, "samples", "grid-00000002.png"))
    ck = ckpt_io.list_checkpoints(run)[-1]
    state = torch.load(ck, weights_only=True)
    assert {"G.r_mean", "G.r_chol"} <= set(state["nets"]) and any(
        k.startswith("S.") for k in state["nets"]) and any(k.startswith("Q.") for k in state["nets"])
    assert float(state["nets"]["G.r_mean"].abs().sum()) > 0  # fitted, not the zero start
    res = cli.test_main(CIFAR_DIR, [f"--checkpoint={ck}", f"--data_root={cifar_root}",
                                    "--kmeans_runs=1", "--device=cpu"])
    assert 0.0 <= res["acc"] <= 1.0 and 0.0 <= res["nmi"] <= 1.0 and -1 <= res["ari"] <= 1
    # IS / FID fakes without real images: the fitted Gaussian, deterministic under the seed
    mod = load_script("sample_fakes", "test", "sample_fake_images2npy.py")
    out = mod.main([f"--checkpoint={ck}", "--num=6", f"--out={tmp_path / 'f.npy'}",
                    "--batch_size=4", "--device=cpu"])
    imgs = np.load(out)
    assert imgs.shape == (6, 32, 32, 3) and imgs.dtype == np.uint8
    again = mod.main([f"--checkpoint={ck}", "--num=6", f"--out={tmp_path / 'g.npy'}",
                      "--batch_size=6", "--device=cpu"])
    from codegan.evaluation.fakes import codes_path_for

    # the same latents (and codes) at either batch size; G's float32 convolutions at batch 4
    # and 6 may sum in other orders (oneDNN picks kernels per batch size), which can move a
    # pixel across a uint8 step: one step at most, and rarely (as test_sample_fakes allows)
    assert np.array_equal(np.load(codes_path_for(out)), np.load(codes_path_for(again)))
    diff = np.abs(imgs.astype(int) - np.load(again).astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    # the authors' sampling, from real images' representations
    from codegan.evaluation.sampling import load_nets

    nets, cfg, _ = load_nets(ck, "cpu")
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        y = cg.sample_from_real(nets, cfg, x, n_noise=2)
    assert y.shape == (8, 3, 32, 32) and float(y.abs().max()) <= 1
    # the comparison report's grid and t-SNE features
    from codegan.evaluation import compare_report as rep

    rep.method_grid(ck, str(tmp_path / "grid.png"), "cpu")
    feats, codes = rep.fake_features(ck, 2, "cpu")
    assert feats.shape == (20, 16)


def test_resume_equals_uninterrupted(cifar_root, tmp_path, monkeypatch):
    over = dict(max_iters=4, congan_kappa_epochs=[2], congan_kappa=[0.0, 1.0])
    full = Trainer(config(cifar_root, tmp_path / "a", **over), CIFAR_DIR).run()
    tr = Trainer(config(cifar_root, tmp_path / "b", **over), CIFAR_DIR)
    ck = ckpt_io.list_checkpoints(run_interrupted(tr, 2, monkeypatch))[-1]
    assert ck.endswith("ckpt-00000002.pt")
    resumed = Trainer(config(cifar_root, tmp_path / "b", **over), CIFAR_DIR, resume=ck,
                      resume_overrides={"max_iters": 4}).run()
    a = torch.load(ckpt_io.list_checkpoints(full)[-1], weights_only=True)
    r = torch.load(ckpt_io.list_checkpoints(resumed)[-1], weights_only=True)
    assert r["iteration"] == 4 and r["config"]["method"] == "congan"
    assert set(a["nets"]) == set(r["nets"])
    for k, v in a["nets"].items():
        assert torch.equal(v, r["nets"][k]), k
    for name in ("G", "D"):
        for pid, st in a["optim"][name]["state"].items():
            assert torch.equal(st["exp_avg"], r["optim"][name]["state"][pid]["exp_avg"])
        assert [g["lr"] for g in a["optim"][name]["param_groups"]] == \
            [g["lr"] for g in r["optim"][name]["param_groups"]]


def test_simsiam_pretraining_resumes_through_the_command(cifar_root, tmp_path):
    base = {"data_root": cifar_root, "pretrain_loss": "simsiam", "pretrain_batch_size": 8,
            "fc_dim": 16, "kmeans_runs": 1, "progress": False, "device": "cpu",
            "num_threads": 1, "pretrain_iters": 3}
    cfg = load_config(os.path.join(CIFAR_DIR, "param.yml"),
                      {**base, "pretrain_path": str(tmp_path / "a.pt")})
    straight = make_pretrainer(cfg, CIFAR_DIR)
    assert isinstance(straight, SimSiamPretrainer)
    straight.run()
    part = make_pretrainer(cfg.replace(pretrain_path=str(tmp_path / "b.pt")), CIFAR_DIR)
    part.step(), part.step()
    part.iteration = 2
    part.save_resume()
    resume = part.resume_path
    resumed = make_pretrainer(load_config(os.path.join(CIFAR_DIR, "param.yml"), {
        **base, "pretrain_loss": "simclr", "pretrain_path": str(tmp_path / "b.pt")}),
        CIFAR_DIR, resume=resume)
    assert isinstance(resumed, SimSiamPretrainer)
    resumed.run()
    a = torch.load(tmp_path / "a.pt", weights_only=True)
    b = torch.load(tmp_path / "b.pt", weights_only=True)
    assert a["kind"] == b["kind"] == "simsiam" and "predictor" in a
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
