"""The baselines of the paper's comparison (InfoGAN, ClusterGAN, InfoGAN-CR) on the shared loop:
their losses against their definitions, which networks each step moves, InfoGAN-CR's pairs and
schedule, their published settings, train + test, and resume equals uninterrupted."""

import math
import os

import pytest
import torch
import torch.nn.functional as F

from codegan import checkpoint as ckpt_io
from codegan.config import load_config
from codegan.errors import UserError
from codegan.methods import METHODS
from codegan.methods.infogan_cr import cr_pairs
from codegan.methods.losses import (categorical_nll, d_loss, g_loss, gaussian_nll,
                                    gradient_penalty)
from codegan.training import cli
from codegan.training.loop import Trainer
from conftest import REPO, TINY, run_interrupted

MNIST_DIR = os.path.join(REPO, "MNIST")
FASHION_DIR = os.path.join(REPO, "Fashion-MNIST")
BASELINES = ("infogan", "clustergan", "infogan-cr")


def config(data_root, out, folder=MNIST_DIR, **over):
    return load_config(os.path.join(folder, "param.yml"),
                       {**TINY, "data_root": data_root, "out": str(out), **over})


# -- losses against their definitions -------------------------------------------------------------
def test_categorical_mi_lower_bound_is_entropy_minus_cross_entropy():
    torch.manual_seed(0)
    k, n = 10, 64
    logits, c = torch.randn(n, k), torch.randint(0, k, (n,))
    # H(c) of the uniform code and E[log Q(c|x)] written out
    h_c = -sum((1 / k) * math.log(1 / k) for _ in range(k))
    log_q = torch.log(torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True))
    ce = -log_q[torch.arange(n), c].mean()
    mi = h_c - ce
    assert torch.allclose(math.log(k) - categorical_nll(logits, c), mi, atol=1e-6)
    # a Q that knows the code reaches the bound's maximum H(c) = log K
    sure = F.one_hot(c, k).float() * 50
    assert abs(float(math.log(k) - categorical_nll(sure, c)) - math.log(k)) < 1e-6


def test_gaussian_nll_is_the_negative_log_density_of_std_one():
    torch.manual_seed(0)
    mu, code = torch.randn(16, 3), torch.rand(16, 3) * 2 - 1
    want = -torch.distributions.Normal(mu, 1.0).log_prob(code).sum(1).mean()
    assert torch.allclose(gaussian_nll(mu, code), want, atol=1e-6)


def test_standard_gan_losses_are_the_cross_entropies_of_sigmoid_scores():
    torch.manual_seed(0)
    r, f = torch.randn(32), torch.randn(32)
    bce = F.binary_cross_entropy
    want_d = bce(torch.sigmoid(r), torch.ones(32)) + bce(torch.sigmoid(f), torch.zeros(32))
    assert torch.allclose(d_loss("ns", r, f), want_d, atol=1e-6)
    # non-saturating G: -log D(G(z)), not log(1 - D(G(z)))
    assert torch.allclose(g_loss(f, "ns"), bce(torch.sigmoid(f), torch.ones(32)), atol=1e-6)
    assert torch.allclose(g_loss(f, "wgan-gp"), -f.mean())


@pytest.mark.parametrize("per_sample", [True, False])
def test_gradient_penalty_interpolates_with_one_weight_per_sample_or_per_batch(per_sample):
    # D(x) = 0.5 * sum x^2 has gradient x: at x_hat = eps * 1 + (1 - eps) * 0 the gradient's
    # norm is eps * sqrt(d), so the penalty shows which eps were drawn
    n, d = 6, 4
    real, fake = torch.ones(n, 1, 2, 2), torch.zeros(n, 1, 2, 2)

    def D(x):
        return 0.5 * x.flatten(1).pow(2).sum(1)

    torch.manual_seed(3)
    eps = torch.rand(n if per_sample else 1)
    want = ((eps.pow(2) * d + 1e-12).sqrt() - 1).pow(2).mean()
    torch.manual_seed(3)
    got = gradient_penalty(D, real, fake, per_sample=per_sample)
    assert torch.allclose(got, want, atol=1e-6)
    if not per_sample:  # ClusterGAN: every sample at the same eps, so one value for all
        assert torch.allclose(got, ((eps * 2 - 1).pow(2)).mean())


# -- InfoGAN-CR's pairs ------------------------------------------------------------------------------
def test_cr_pairs_share_the_noise_and_exactly_the_drawn_factor():
    g = torch.Generator().manual_seed(0)
    n, zn, k, m, gap = 4000, 6, 10, 2, 0.5
    z1, c1, z2, c2, i = cr_pairs(n, zn, k, m, gap=gap, scale=1.0, generator=g)
    assert z1.shape == z2.shape == (n, zn) and i.min() == 0 and i.max() == m
    assert torch.equal(z1[:, m:], z2[:, m:])  # the noise is shared by both images
    assert torch.equal(c1[i == 0], c2[i == 0])  # factor 0: the class code is shared
    assert (c1[i != 0] != c2[i != 0]).all()  # otherwise it differs (the categorical gap)
    for j in range(m):
        shared = i == j + 1
        assert torch.equal(z1[shared, j], z2[shared, j])
        # the gap rule: differing codes at least gap apart, all codes within [-1, 1]
        assert ((z1[~shared, j] - z2[~shared, j]).abs() >= gap - 1e-6).all()
    assert z1[:, :m].abs().max() <= 1 and z2[:, :m].abs().max() <= 1
    # every factor is drawn about equally often
    counts = torch.bincount(i, minlength=m + 1).float() / n
    assert (counts - 1 / (m + 1)).abs().max() < 0.03


def test_cr_pairs_without_gap_draw_the_other_codes_independently():
    g = torch.Generator().manual_seed(1)
    z1, _, z2, _, i = cr_pairs(20000, 3, 5, 2, gap=0.0, generator=g)
    other = i != 1
    a, b = z1[other, 0], z2[other, 0]
    assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 0.03
    assert abs(float(a.var()) - 1 / 3) < 0.02  # U(-1, 1) has variance 1/3


# -- settings ------------------------------------------------------------------------------------
def test_each_methods_published_settings_show_in_its_config(tiny_data, tmp_path):
    info = config(tiny_data, tmp_path, method="infogan")
    assert (info.lr, info.lr_d, info.adam_betas, info.gan_loss, info.z_prior) == \
        (1e-3, 2e-4, [0.5, 0.999], "ns", "uniform")
    cg = config(tiny_data, tmp_path, method="clustergan")
    assert (cg.critic, cg.z_scale, cg.beta_n, cg.beta_c) == (5, 0.1, 10.0, 10.0)
    # per-dataset values where the authors published them: Fashion-MNIST without beta_n
    assert config(tiny_data, tmp_path, FASHION_DIR, method="clustergan").beta_n == 0.0
    cr = config(tiny_data, tmp_path, method="infogan-cr")
    assert (cr.lr, cr.lr_d, cr.lr_h, cr.g_steps, cr.info_weight_cont) == \
        (1e-3, 2e-3, 2e-3, 2, 0.05)
    # the command line beats the published value; CoDeGAN keeps param.yml's
    assert config(tiny_data, tmp_path, method="infogan", lr=5e-4).lr == 5e-4
    assert config(tiny_data, tmp_path).lr == 1e-4


def test_a_param_yml_section_sets_a_methods_settings(tiny_data, tmp_path):
    import yaml

    with open(os.path.join(MNIST_DIR, "param.yml")) as f:
        values = yaml.safe_load(f)
    values["infogan"] = {"lr": 3e-4, "info_cont_dim": 1}
    values["clustergan"] = {"beta_n": 1.0}
    path = tmp_path / "param.yml"
    path.write_text(yaml.safe_dump(values))
    cfg = load_config(str(path), {"method": "infogan"})
    assert (cfg.lr, cfg.info_cont_dim, cfg.lr_d) == (3e-4, 1, 2e-4)
    assert "beta_n" not in cfg.to_dict()  # another method's section stays out
    values["infogan"] = {"beta_n": 1.0}
    path.write_text(yaml.safe_dump(values))
    with pytest.raises(UserError, match="'beta_n' under 'infogan'.*method clustergan"):
        load_config(str(path))


def test_a_methods_setting_without_the_method_says_which_method(tiny_data, tmp_path):
    with pytest.raises(UserError, match="--info_weight_c.*setting of method infogan"):
        config(tiny_data, tmp_path, info_weight_c=2.0)
    with pytest.raises(UserError, match="--cr_weight is 'x', but must be a number"):
        config(tiny_data, tmp_path, method="infogan-cr", cr_weight="x")
    with pytest.raises(UserError, match="info_cont_dim.*exceeds 'zn_dim'"):
        config(tiny_data, tmp_path, method="infogan", info_cont_dim=99)


# -- the steps: which networks each one moves --------------------------------------------------------
def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def moved(before, module):
    return {k for k, v in module.named_parameters() if not torch.equal(before[k], v)}


def test_infogan_trains_q_with_d_and_g_alone_in_gs_step(tiny_data, tmp_path):
    tr = Trainer(config(tiny_data, tmp_path, method="infogan"), MNIST_DIR)
    nets, m = tr.nets, tr.method
    assert not nets.encoders() and set(tr.opt) == {"G", "D"}
    snap = {n: params(getattr(nets, n)) for n in ("G", "D", "Q")}
    logs = m.d_step()
    assert moved(snap["D"], nets.D) and moved(snap["Q"], nets.Q) and not moved(snap["G"], nets.G)
    assert float(logs["D/MI_c"]) <= math.log(10) + 1e-6
    snap = {n: params(getattr(nets, n)) for n in ("G", "D", "Q")}
    m.g_step()
    assert moved(snap["G"], nets.G) and not moved(snap["D"], nets.D) \
        and not moved(snap["Q"], nets.Q)


def test_clustergan_steps_d_critic_times_then_g_and_e_together(tiny_data, tmp_path):
    tr = Trainer(config(tiny_data, tmp_path, method="clustergan"), MNIST_DIR)
    nets = tr.nets
    assert set(tr.opt) == {"G", "D"} and not hasattr(nets, "E_c")
    g0, e0 = params(nets.G), params(nets.E)
    for idx in range(4):  # four critic steps: G and E wait
        logs = tr.method.train_iteration(0, idx)
        assert "E/L_c" not in logs
    assert not moved(g0, nets.G) and not moved(e0, nets.E)
    d0 = params(nets.D)
    logs = tr.method.train_iteration(0, 4)  # the fifth: critic, then G and E in one Adam
    assert {"D/loss", "G/gan", "E/L_n", "E/L_c"} <= set(logs)
    assert moved(g0, nets.G) and moved(e0, nets.E) and moved(d0, nets.D)


def test_infogan_cr_turns_the_regulariser_on_and_reinitialises_h(tiny_data, tmp_path):
    tr = Trainer(config(tiny_data, tmp_path, method="infogan-cr", max_iters=4, cr_start=0.5),
                 MNIST_DIR)
    m = tr.method
    assert m.start_iteration() == 2 and set(tr.opt) == {"G", "D", "H"}
    seen = []
    for _ in range(4):
        adam = tr.opt["H"]
        logs = tr.train_iteration()
        seen.append(("G/CR" in logs, "H/reinit" in logs, tr.opt["H"] is adam))
    # off, off, on (H and its Adam new at the switch), on
    assert seen == [(False, False, True), (False, False, True), (True, True, False),
                    (True, False, True)]
    st = next(iter(tr.opt["H"].state.values()))
    assert float(st["step"]) == 2  # the new Adam counted from the switch


def test_infogan_cr_takes_two_g_steps_on_the_same_latents(tiny_data, tmp_path, monkeypatch):
    tr = Trainer(config(tiny_data, tmp_path, method="infogan-cr", cr_start=0.0), MNIST_DIR)
    seen = []
    orig = tr.method.g_loss_terms

    def spy(z, c):
        seen.append((z.clone(), c.clone()))
        return orig(z, c)

    monkeypatch.setattr(tr.method, "g_loss_terms", spy)
    tr.train_iteration()
    assert len(seen) == 2 and torch.equal(seen[0][0], seen[1][0]) and \
        torch.equal(seen[0][1], seen[1][1])


# -- runs ----------------------------------------------------------------------------------------
def weights(run_dir):
    return torch.load(ckpt_io.list_checkpoints(run_dir)[-1], weights_only=True)


@pytest.mark.parametrize("method", BASELINES)
def test_resume_equals_uninterrupted_and_test_py_reads_the_checkpoint(method, tiny_data,
                                                                      tmp_path, monkeypatch):
    # 64 images / batch 8: 8 iterations per epoch; 7 crosses ClusterGAN's critic cycle and
    # InfoGAN-CR's switch (cr_start 0.5 of 7 -> iteration 4, after the interruption at 3)
    over = dict(method=method, max_iters=7, cr_start=0.5) if method == "infogan-cr" else \
        dict(method=method, max_iters=7)
    full = Trainer(config(tiny_data, tmp_path / "a", **over), MNIST_DIR).run()
    assert os.path.basename(full) == f"00000-mnist-{method}"
    tr = Trainer(config(tiny_data, tmp_path / "b", **over), MNIST_DIR)
    ck = ckpt_io.list_checkpoints(run_interrupted(tr, 3, monkeypatch))[-1]  # Ctrl-C in iteration 3
    assert ck.endswith("ckpt-00000003.pt")
    if method == "infogan-cr":  # a longer resume keeps the switch where it was planned
        longer = Trainer(config(tiny_data, tmp_path / "c"), MNIST_DIR, resume=ck,
                         resume_overrides={"max_iters": 70})
        assert longer.method.start_iteration() == 4
    resumed = Trainer(config(tiny_data, tmp_path / "b"), MNIST_DIR, resume=ck,
                      resume_overrides={"max_iters": 7}).run()
    a, r = weights(full), weights(resumed)
    assert r["config"]["method"] == method and r["iteration"] == 7
    assert set(a["nets"]) == set(r["nets"]) and not any(k.startswith("E_c") for k in a["nets"])
    for k, v in a["nets"].items():
        assert torch.equal(v, r["nets"][k]), k
    for name in a["optim"]:
        for pid, st in a["optim"][name]["state"].items():
            assert torch.equal(st["exp_avg"], r["optim"][name]["state"][pid]["exp_avg"])
    res = cli.test_main(MNIST_DIR, [f"--checkpoint={ckpt_io.list_checkpoints(resumed)[-1]}",
                                    f"--data_root={tiny_data}", "--kmeans_runs=1",
                                    "--device=cpu"])
    assert res["iteration"] == 7 and method in res["protocol"]
    for key in ("acc", "nmi", "assign_acc", "assign_nmi", "assign_ari"):
        assert 0.0 <= res[key] <= 1.0


def test_every_method_is_a_key_of_the_registry():
    # mathieu16 is no noise-to-image GAN: tests/test_mathieu16.py; congan brings its own
    # networks and a pre-trained encoder: tests/test_congan.py
    assert set(BASELINES) | {"codegan", "mathieu16", "congan"} == set(METHODS)


def test_sampled_fakes_of_a_baseline_come_from_its_prior(tiny_data, tmp_path):
    """test/sample_fake_images2npy.py on an InfoGAN checkpoint draws z ~ U(-1, 1), not N(0, 1)."""
    from codegan.data.datasets import DATASETS, to_uint8
    from codegan.evaluation.sampling import load_generator
    from codegan.latent import sample_latent
    from conftest import load_script

    run = Trainer(config(tiny_data, tmp_path, method="infogan"), MNIST_DIR).run()
    ck = ckpt_io.list_checkpoints(run)[-1]
    out = str(tmp_path / "fakes.npy")
    script = load_script("sample_fake_images2npy", "test", "sample_fake_images2npy.py")
    script.main([f"--checkpoint={ck}", "--num=40", f"--out={out}", "--seed=5", "--device=cpu"])
    G, cfg = load_generator(ck, "cpu")
    results = {}
    for prior in ("uniform", "normal"):
        z, c = sample_latent(40, cfg.zn_dim, cfg.zc_dim, "cpu",
                             torch.Generator().manual_seed(5), prior)
        with torch.no_grad():
            x = to_uint8(G(z, c), DATASETS[cfg.dataset].image_range, "truncate")
        results[prior] = x.permute(0, 2, 3, 1).numpy().astype(int)
    import numpy as np

    got = np.load(out).astype(int)
    assert np.abs(got - results["uniform"]).max() <= 1
    assert np.abs(got - results["normal"]).max() > 1


@pytest.mark.parametrize("method", BASELINES)
def test_speed_switches_work_for_every_method(method, tiny_data, tmp_path):
    """bf16 autocast, channels_last and fused Adam: the losses stay finite and float32."""
    tr = Trainer(config(tiny_data, tmp_path, method=method, precision="bf16",
                        channels_last=True, fused_adam=True, critic=1), MNIST_DIR)
    for _ in range(2):
        losses = tr.train_iteration()
    assert losses and all(torch.isfinite(v).all() and v.dtype == torch.float32
                          for v in losses.values())
