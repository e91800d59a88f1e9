"""Each mode computes what the official code computes. Every test names the official
file and line (first upload, commit 348d046, of github learninginvision/CoDeGAN) it follows."""

import os

import pytest
import torch
import torch.nn.functional as F
from modes_util import FASHION, TINY, make_tiny, separate_encoder_folder

from codegan.methods import codegan_rules as rules
from codegan.config import load_config
from codegan.errors import UserError

REPO = os.path.dirname(FASHION)


def folder_cfg(folder, **over):
    return load_config(os.path.join(REPO, folder, "param.yml"), {"device": "cpu", **over})


def tiny_cfg(tmp_path, folder=FASHION, **over):
    """Tiny settings on 20 synthetic images (2 per class) in batches of 10: 2 iterations an
    epoch, so epoch-based rules can be stepped through."""
    data = make_tiny(tmp_path / "data", n_train=20, n_test=20)
    return load_config(os.path.join(folder, "param.yml"),
                       {**TINY, "data_root": data, "out": str(tmp_path / "runs"),
                        "d_batch_size": 10, **over})


def bn_separate_folder(root):
    """Separate encoders, E_c with BatchNorm (as CIFAR-10's ResNet-18), tiny."""
    return separate_encoder_folder(root, ec_batchnorm=True)


def spy_supcon(monkeypatch):
    import codegan.methods.codegan as tr

    calls, real = [], tr.supcon_loss

    def spy(features, labels, temp, base_temp=None):
        calls.append(labels.clone())
        return real(features, labels, temp, base_temp)

    monkeypatch.setattr(tr, "supcon_loss", spy)
    return calls


# -- item 1: where the labelled batch goes ---------------------------------------------------------
def test_labelled_batch_joins_g_before_chain_and_encoder_from_it(tmp_path, monkeypatch):
    """Fashion-MNIST/train.py:84-88: from epoch chain_step on G's step gets no labelled batch and
    the encoder's gets it; before, G's step gets it and there is no encoder step at all."""
    from codegan.training.loop import Trainer

    cfg = tiny_cfg(tmp_path, few_labels=True, chain_step=1)
    t = Trainer(cfg, FASHION)
    calls = spy_supcon(monkeypatch)
    n, r = cfg.g_batch_size, cfg.r_batch_size
    t.method.g_step(epoch=0)
    assert t.method.e_steps(epoch=0) == {}  # shared encoder: no step before chain_step
    assert len(calls) == 1 and len(calls[0]) == 2 * (n + r)
    y = calls[0][:n + r]
    assert torch.equal(calls[0][n + r:], y)  # the two views share labels
    assert torch.equal(torch.bincount(y[n:], minlength=10), torch.full((10,), r // 10))
    calls.clear()
    t.method.g_step(epoch=1)
    t.method.e_steps(epoch=1)
    assert [len(c) for c in calls] == [2 * n, 2 * (cfg.e_batch_size + r)]


def test_with_chain_step_0_g_never_sees_a_labelled_image(tmp_path, monkeypatch):
    """Fashion-MNIST/train.py:84: ``epoch >= 0`` always holds, so optimize_parametersG is never
    called with real_data (the '100 labels' mode)."""
    from codegan.training.loop import Trainer

    cfg = tiny_cfg(tmp_path, few_labels=True, chain_step=0)
    t = Trainer(cfg, FASHION)
    calls = spy_supcon(monkeypatch)
    for _ in range(3):
        t.train_iteration()
    g_sizes = [len(c) for c in calls[0::2]]
    assert g_sizes == [2 * cfg.g_batch_size] * 3
    assert [len(c) for c in calls[1::2]] == [2 * (cfg.e_batch_size + cfg.r_batch_size)] * 3


def test_labelled_reals_go_through_e_c_in_one_call_with_the_fakes(tmp_path, monkeypatch):
    """CIFAR-10/solver.py:59-69 and 106-118: the labelled reals and their views are concatenated
    with the fakes and encoded by ONE E_c call (one set of BatchNorm statistics)."""
    from codegan.training.loop import Trainer

    folder = bn_separate_folder(tmp_path / "sep")
    cfg = tiny_cfg(tmp_path, folder, few_labels=True, chain_step=1)
    t = Trainer(cfg, folder)
    assert not t.method.split_view  # BatchNorm in E_c: no split
    sizes = []
    t.nets.E_c.register_forward_hook(lambda m, i, o: sizes.append(len(i[0])))
    t.method.g_step(epoch=0)  # before chain: labelled batch in G's step
    t.method.e_steps(epoch=0)  # E_c not yet trained, E_z is
    r = cfg.r_batch_size
    assert sizes == [2 * (cfg.g_batch_size + r)]
    sizes.clear()
    t.method.e_steps(epoch=1)
    assert sizes == [2 * (cfg.ec_batch_size + r)]


# -- item 2: the chain rule ----------------------------------------------------------------------
@pytest.mark.parametrize("folder,offset", [("MNIST", 0), ("Fashion-MNIST", 0), ("CIFAR-10", 1),
                                           ("COIL-20", 1), ("3D-Chairs", 1), ("3D-Cars", 1)])
def test_chain_epoch_per_folder(folder, offset):
    """Fashion-MNIST/train.py:84 compares ``epoch >= chain_step``; CIFAR-10/train.py:94,
    COIL-20/train.py:72 and 3D-Chairs/train.py:71 compare ``epoch >= chain_step - 1``."""
    cfg = folder_cfg(folder, chain_step=100, max_step=300)
    assert cfg.chain_step_offset == offset
    assert rules.ec_start_epoch(cfg) == 100 - offset
    assert not rules.ec_trains(cfg, 99 - offset, 0) and rules.ec_trains(cfg, 100 - offset, 0)
    assert rules.ec_trains(folder_cfg(folder, chain_step=0), 0, 0)


# -- item 3: pre-trained modes start G and D too -------------------------------------------------
@pytest.mark.parametrize("folder,over,loads", [
    ("Fashion-MNIST", dict(pretrain=True), True),
    ("Fashion-MNIST", dict(few_labels=True, meta=True), True),
    ("Fashion-MNIST", dict(few_labels=True), False),
    ("CIFAR-10", dict(pretrain=True), False),
    ("CIFAR-10", dict(few_labels=True, pretrain=True), True),
    ("CIFAR-10", dict(few_labels=True, meta=True), True),
    ("COIL-20", dict(pretrain=True), False)])
def test_modes_that_officially_load_pre_g_and_pre_d(folder, over, loads):
    """Fashion-MNIST/train.py:51-62 loads pre_G, pre_D, pre_E whenever pretrain is set (meta
    mode has pretrain set too); CIFAR-10/train.py:55-68 loads pre_G / pre_D only with few labels,
    pre_EC always; COIL-20/train.py loads pre_EC only."""
    assert rules.loads_pretrained_gd(folder_cfg(folder, **over)) == loads


def test_pretrained_mode_without_g_and_d_says_how(tmp_path):
    from codegan.training.loop import Trainer

    cfg = tiny_cfg(tmp_path, pretrain=True, pretrain_path=str(tmp_path / "none.pt"))
    with pytest.raises(UserError, match="load_path.*scratch"):
        Trainer(cfg, FASHION)


# -- items 4, 5: detach rules ---------------------------------------------------------------------
@pytest.mark.parametrize("over,detach", [({}, True), (dict(pretrain=True), False),
                                         (dict(few_labels=True), False),
                                         (dict(few_labels=True, meta=True), False),
                                         (dict(pretrain=True, detach_aug_in_g=True), True),
                                         (dict(detach_aug_in_g=False), False)])
def test_cifar_detach_follows_the_official_automatic_rule(over, detach):
    """CIFAR-10/solver.py:44-47: trans_detach only when neither few_labels nor pretrain (the
    official meta mode sets pretrain too); an explicit detach_aug_in_g overrides."""
    assert rules.detach_aug(folder_cfg("CIFAR-10", **over)) == detach


@pytest.mark.parametrize("folder", ["MNIST", "Fashion-MNIST", "COIL-20", "3D-Chairs", "3D-Cars"])
def test_other_folders_detach_in_every_mode(folder):
    """The first upload's train_transform returns ``.detach()`` (Fashion-MNIST/utils/util.py,
    COIL-20/utils/util.py, 3D-Chairs/utils/util.py), in every mode."""
    for over in ({}, dict(pretrain=True)):
        assert rules.detach_aug(folder_cfg(folder, **over)) is True


def test_detached_view_gives_g_no_gradient_and_undetached_does(tmp_path):
    """The switch acts: with the same draws, G's gradient differs when T(x) keeps its graph
    (CIFAR-10/solver.py:56 train_transform(img_q, self.trans_detach))."""
    from codegan.training.loop import Trainer

    grads = {}
    for detach in (True, False):
        cfg = tiny_cfg(tmp_path, detach_aug_in_g=detach, beta_2=1e-12, split_detached_view=False)
        t = Trainer(cfg, FASHION)
        torch.manual_seed(3)
        t.method.g_step()
        grads[detach] = [p.grad.clone() for p in t.nets.G.parameters()]
    assert any(not torch.allclose(a, b) for a, b in zip(grads[True], grads[False]))


# -- item 6: step order ---------------------------------------------------------------------------
@pytest.mark.parametrize("folder,order", [("Fashion-MNIST", ["G", "E", "EMA", "D"]),
                                          ("CIFAR-10", ["G", "E", "EMA", "D"]),
                                          ("COIL-20", ["D", "G", "E", "EMA"]),
                                          ("3D-Chairs", ["D", "G", "E", "EMA"])])
def test_step_order_per_folder(folder, order):
    """Fashion-MNIST/train.py:84-92 and CIFAR-10/train.py:93-104: G, E, then D, the EMA of G
    after the E steps (CIFAR-10/train.py:100-102); COIL-20/train.py:69-78 and
    3D-Chairs/train.py:68-77: D first."""
    from codegan.methods.codegan import CoDeGAN

    cfg = folder_cfg(folder)
    seen = []
    loop = type("L", (), {"update_ema": lambda s: seen.append("EMA")})()
    fake = type("M", (), {"cfg": cfg, "loop": loop,
                          "g_step": lambda s, e=0: seen.append("G") or {},
                          "e_steps": lambda s, e: seen.append("E") or {},
                          "d_step": lambda s: seen.append("D") or {}})()
    CoDeGAN.train_iteration(fake, epoch=0, idx=0)
    assert seen == order


def test_separate_encoders_step_e_c_before_e_z(tmp_path):
    """CIFAR-10/train.py:94-100 and COIL-20/train.py:72-78: optimize_parametersEC, then EZ."""
    from codegan.training.loop import Trainer

    folder = bn_separate_folder(tmp_path / "sep")
    cfg = tiny_cfg(tmp_path, folder)
    t = Trainer(cfg, folder)
    order = []
    for name in ("E_c", "E_z"):
        opt = t.opt[name]
        step = opt.step
        opt.step = (lambda n, s: (lambda *a, **k: order.append(n) or s(*a, **k)))(name, step)
    t.method.e_steps(epoch=0)
    assert order == ["E_c", "E_z"]


# -- item 7: SupCon factor, initialisation, EMA -------------------------------------------------
def supcon_official_form(f, y, temp, base_temp):
    """SupCon as the official SupConLoss lays it out: features (bsz, 2 views, d), anchors the
    views stacked view-major, max-subtracted logits, factor temp / base_temp."""
    n = len(y)
    fv = torch.stack([f[:n], f[n:]], 1)
    contrast = torch.cat(torch.unbind(fv, 1))
    logits = contrast @ contrast.T / temp
    logits = logits - logits.max(1, keepdim=True).values
    mask = (y[:, None] == y[None, :]).float().repeat(2, 2)
    not_self = 1 - torch.eye(2 * n, dtype=logits.dtype)
    mask = mask * not_self
    log_prob = logits - torch.log((torch.exp(logits) * not_self).sum(1, keepdim=True))
    return (-(temp / base_temp) * (mask * log_prob).sum(1) / mask.sum(1)).mean()


@pytest.mark.parametrize("temp", [0.07, 0.2, 0.5])
def test_supcon_has_the_official_temperature_factor(temp):
    """Fashion-MNIST/utils/sup_contrastive_loss.py:90: loss = -(T / base_T) * mean_log_prob_pos."""
    from codegan.methods.losses import supcon_loss

    g = torch.Generator().manual_seed(0)
    f = F.normalize(torch.randn(16, 6, generator=g, dtype=torch.float64), dim=1)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3])
    got = supcon_loss(f, torch.cat([y, y]), temp, 0.07)
    assert float(got) == pytest.approx(float(supcon_official_form(f, y, temp, 0.07)), rel=1e-10)
    assert float(got) == pytest.approx(temp / 0.07 * float(supcon_loss(f, torch.cat([y, y]), temp)),
                                       rel=1e-12)


def test_every_folder_sets_the_official_base_temperature():
    for folder in ("MNIST", "Fashion-MNIST", "CIFAR-10", "COIL-20", "3D-Chairs", "3D-Cars"):
        assert folder_cfg(folder).supcon_base_temp == 0.07


def bn_weights(module):
    return torch.cat([m.weight.detach().flatten() for m in module.modules()
                      if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)])


def test_initialisation_details():
    """MNIST/model.py:6-18 initialize_weights leaves BatchNorm at scale 1;
    CIFAR-10/models/Generator.py:81 draws G's BatchNorm scales N(1, 0.02);
    CIFAR-10/models/Discriminator.py:86 has a bias-free last linear."""
    from codegan.nets.infogan import build_nets
    from codegan.nets.resnet import build_cifar_nets

    torch.manual_seed(0)
    mnist = build_nets(folder_cfg("MNIST"))
    assert torch.equal(bn_weights(mnist.G), torch.ones_like(bn_weights(mnist.G)))
    cifar = build_cifar_nets(folder_cfg("CIFAR-10"))
    w = bn_weights(cifar.G)
    assert 0.015 < float(w.std()) < 0.025 and abs(float(w.mean()) - 1) < 0.005
    assert cifar.D.linear.bias is None


@pytest.mark.parametrize("folder", ["3D-Chairs", "3D-Cars", "COIL-20", "CIFAR-10"])
def test_last_linear_bias_of_d_is_the_officials(folder):
    """3D-Chairs/models/Discriminator.py:80-84 (3D-Cars the same file) and
    COIL-20/models/Discriminator.py:81-85: nn.Linear(ch, 1) re-initialised by Xavier on its
    weight only, so its bias keeps PyTorch's default U(-1/sqrt(ch), 1/sqrt(ch)), while every conv
    bias is zeroed (:20-28, :56-64); CIFAR-10/models/Discriminator.py:86 has no bias at all."""
    from codegan.folders import load_models

    cfg = folder_cfg(folder)
    torch.manual_seed(0)
    D = load_models(os.path.join(REPO, folder)).build_nets(cfg).D
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(float(m.bias.detach().abs().max()) == 0 for m in convs)
    if folder == "CIFAR-10":
        assert D.linear.bias is None
        return
    ch = D.linear.in_features
    biases = [float(D.linear.bias.detach())]
    for seed in range(1, 12):  # more draws of the same D: the spread of the default init
        torch.manual_seed(seed)
        biases.append(float(type(D)(**D.init_args).linear.bias.detach()))
    bound = 1 / ch ** 0.5
    assert all(b != 0 and abs(b) <= bound for b in biases)
    assert max(biases) - min(biases) > bound  # spread over the interval, not a constant


def test_3d_networks_have_the_official_widths():
    """3D-Chairs/models/Generator.py:44-55: four GenBlock(512, 512), BN(512), conv 512 -> 3;
    3D-Chairs/models/Discriminator.py:74-80: 256 channels wide."""
    from codegan.nets.resnet import build_3d_nets

    nets = build_3d_nets(folder_cfg("3D-Chairs"))
    assert [b.conv2.out_channels for b in nets.G.blocks] == [512] * 4
    assert nets.G.bn.num_features == 512 and nets.G.conv.in_channels == 512
    assert {b.conv2.out_channels for b in nets.D.blocks} == {256}
    assert nets.D.linear.in_features == 256
    with torch.no_grad():
        nets.eval()
        x = nets.G(torch.randn(2, 118), torch.tensor([0, 9]))
        assert x.shape == (2, 3, 64, 64) and nets.D(x).shape == (2,)


def test_ema_averages_batchnorm_buffers_from_the_official_iteration(tmp_path):
    """CIFAR-10/utils/ema.py:22-36: the EMA averages the whole state_dict (BatchNorm running
    statistics too), and copies G while the 1-based iteration counter is below start_itr."""
    from codegan.training.loop import Trainer

    cfg = tiny_cfg(tmp_path, use_ema=True, ema_start=5, ema_decay=0.9)
    t = Trainer(cfg, FASHION)
    ema_buf = [b.clone() for b in t.G_ema.buffers()]
    t.iteration = 3  # 1-based count 4 < 5: the EMA copies G
    t.method.g_step()
    t.update_ema()
    assert all(torch.equal(a, b) for a, b in zip(t.G_ema.buffers(), t.nets.G.buffers()))
    ema_buf = [b.clone() for b in t.G_ema.buffers()]
    t.iteration = 4  # 1-based count 5: averaging starts
    t.method.g_step()
    t.update_ema()
    for old, e, g in zip(ema_buf, t.G_ema.buffers(), t.nets.G.buffers()):
        if e.is_floating_point():
            assert torch.allclose(e, 0.9 * old + 0.1 * g, atol=1e-6)
            assert not torch.allclose(e, g)
        else:
            assert torch.equal(e, g)


def write_cifar_stand_in(root) -> str:
    """A random uint8 stand-in for cifar10.npz (24 train, 10 test images) in ``root``."""
    import numpy as np

    rng = np.random.default_rng(0)
    os.makedirs(root, exist_ok=True)
    np.savez(os.path.join(root, "cifar10.npz"),
             x_train=rng.integers(0, 256, (24, 32, 32, 3), dtype=np.uint8),
             y_train=rng.integers(0, 10, 24),
             x_test=rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8),
             y_test=rng.integers(0, 10, 10))
    return str(root)


def test_ema_of_g_is_updated_after_the_encoder_steps_at_cifar10_settings(tmp_path):
    """CIFAR-10/train.py:93-102: solver.ema.update follows optimize_parametersEC and
    optimize_parametersEZ, whose forward passes through G (train mode) move G's BatchNorm
    running statistics. Before ema_start the EMA is a copy of G, so after a G/E iteration its
    buffers equal G's as they stand after the E steps, not after G's own step (nor after D's
    step, whose fakes move them again)."""
    from codegan.training.loop import Trainer

    folder = os.path.join(REPO, "CIFAR-10")
    cfg = load_config(os.path.join(folder, "param.yml"), {
        "device": "cpu", "progress": False, "data_root": write_cifar_stand_in(tmp_path / "d"),
        "out": str(tmp_path / "runs"), "use_ema": True, "g_batch_size": 4, "d_batch_size": 4,
        "ec_batch_size": 4, "ez_batch_size": 4, "chain_step": 0})
    assert cfg.ema_start > 1 and cfg.critic > 1 and not cfg.d_step_first
    torch.manual_seed(0)
    t = Trainer(cfg, folder)
    m = t.method
    snaps = {}

    def snapshot(name, step):
        def wrapped(*a, **k):
            out = step(*a, **k)
            snaps[name] = [b.clone() for b in t.nets.G.buffers()]
            return out
        return wrapped

    m.g_step, m.e_steps = snapshot("G", m.g_step), snapshot("E", m.e_steps)
    t.train_iteration()  # iteration 0: idx 0, a G/E iteration; E_c trains from epoch 0
    assert set(snaps) == {"G", "E"}
    floats = [i for i, b in enumerate(snaps["E"]) if b.is_floating_point()]
    assert floats and any(not torch.equal(snaps["G"][i], snaps["E"][i]) for i in floats)
    ema = list(t.G_ema.buffers())
    assert all(torch.equal(e, b) for e, b in zip(ema, snaps["E"]))
    assert any(not torch.equal(e, g) for e, g in zip(ema, t.nets.G.buffers()))  # D's fakes
    assert all(torch.equal(pe, p) for pe, p in zip(t.G_ema.parameters(), t.nets.G.parameters()))


@pytest.mark.parametrize("folder", ["Fashion-MNIST", "dSprites"])
def test_shared_encoder_minimises_the_folders_official_weighting(tmp_path, folder):
    """The shared encoder's loss, recomputed from its definition with beta_1 != 1 (where the
    two official forms differ): Fashion-MNIST/solver.py:117-119 (and MNIST/solver.py:94)
    ``ecloss + (beta_2 / beta_1) * ezloss``; dSprites/solver.py:131-133
    ``beta_zc * ecloss + beta_zn * ezloss`` (our beta_1, beta_2)."""
    from codegan.training.loop import Trainer

    over = {"beta_1": 2.5, "beta_2": 0.5, "chain_step": 0, "chain_step_offset": 0}
    if folder == "dSprites":
        from test_dsprites_folder import write_fixture

        path = os.path.join(REPO, folder)
        cfg = load_config(os.path.join(path, "param.yml"), {
            **TINY, "e_batch_size": 6, "g_batch_size": 6, "d_batch_size": 6,
            "dsprites_test_images": 30, "train_metrics": [], "few_labels": False,
            "data_root": write_fixture(tmp_path / "d", n=60), "out": str(tmp_path / "runs"),
            **over})
    else:
        path = FASHION
        cfg = tiny_cfg(tmp_path, **over)
    assert cfg.shared_encoder
    t = Trainer(cfg, path)
    seen = {}
    minimize = t.method.minimize
    t.method.minimize = lambda name, loss: seen.update({name: loss.detach()}) or minimize(name,
                                                                                         loss)
    out = t.method.e_steps(epoch=0)
    l_c, l_z = out["E/L_c"], out["E/L_z"]
    assert float(l_c) > 0 and float(l_z) > 0
    want = (2.5 * l_c + 0.5 * l_z if folder == "dSprites" else l_c + (0.5 / 2.5) * l_z)
    assert torch.allclose(seen["E"], want, rtol=1e-6, atol=0)


# -- item 9: losses in float32 under bf16 autocast ----------------------------------------------
def test_every_loss_is_float32_under_cpu_bf16_autocast():
    """precision: bf16 promises float32 losses: each loss called inside CPU bf16 autocast with
    bf16 inputs returns float32 and equals the float32 loss of the same (rounded) inputs."""
    from codegan.methods.losses import d_loss, g_loss, gradient_penalty, lz_loss, supcon_loss

    g = torch.Generator().manual_seed(0)
    f = F.normalize(torch.randn(32, 16, generator=g), dim=1).bfloat16()
    y = torch.arange(16) % 4
    z, zh = torch.randn(8, 5, generator=g).bfloat16(), torch.randn(8, 5, generator=g).bfloat16()
    s1, s2 = torch.randn(8, generator=g).bfloat16(), torch.randn(8, generator=g).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = {"supcon": supcon_loss(f, torch.cat([y, y]), 0.07, 0.07),
               "lz": lz_loss(zh, z), "g": g_loss(s1), "d_hinge": d_loss("hinge", s1, s2),
               "d_wgan": d_loss("wgan-gp", s1, s2)}
    ref = {"supcon": supcon_loss(f.float(), torch.cat([y, y]), 0.07, 0.07),
           "lz": lz_loss(zh.float(), z.float()), "g": g_loss(s1.float()),
           "d_hinge": d_loss("hinge", s1.float(), s2.float()),
           "d_wgan": d_loss("wgan-gp", s1.float(), s2.float())}
    for k, v in out.items():
        assert v.dtype == torch.float32, k
        assert torch.equal(v, ref[k]), k
    lin = torch.nn.Linear(12, 1)
    real, fake = torch.randn(4, 12, generator=g), torch.randn(4, 12, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gp = gradient_penalty(lambda x: lin(x).squeeze(1), real, fake)
    assert gp.dtype == torch.float32


@pytest.mark.parametrize("folder", ["Fashion-MNIST", "CIFAR-10", "dSprites"])
def test_class_features_are_normalised_in_float32_under_cpu_bf16_autocast(folder):
    """f_c (E's or E_c's L2-normalised output) is float32 with unit rows under CPU bf16
    autocast, as CUDA autocast gives it (its norm runs in float32). Normalised in bfloat16 on
    the CPU, E_c never learnt: L_c stayed at log(2n - 1) for 1,000 iterations
    (bench/results/cpu_bf16_fashion_seeds.txt)."""
    from codegan.folders import load_models

    cfg = folder_cfg(folder)
    torch.manual_seed(0)
    nets = load_models(os.path.join(REPO, folder)).build_nets(cfg)
    x = torch.rand(6, *nets_input_shape(cfg))
    enc = nets.E if nets.shared else nets.E_c
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = enc(x)
    f = out[1] if nets.shared else out
    assert f.dtype == torch.float32 and f.shape[0] == 6
    assert (f.norm(dim=1) - 1).abs().max() < 1e-6
    from codegan.nets import unit_features  # never narrower than its input: float64 stays

    assert unit_features(torch.randn(3, 4, dtype=torch.float64)).dtype == torch.float64


def nets_input_shape(cfg) -> tuple:
    from codegan.data.datasets import DATASETS

    spec = DATASETS[cfg.dataset]
    return spec.channels, spec.size, spec.size


def test_the_log_says_when_the_precision_is_the_slow_choice_on_this_cpu(tmp_path, monkeypatch):
    """bf16 on a CPU without avx512_bf16 is emulated (25x slower) and float32 on one with it
    leaves 1.8x on the table: one log line says so; the right choice, or a GPU, says nothing."""
    import codegan.device as dev
    from codegan.training.loop import Trainer

    info = tmp_path / "cpuinfo"
    info.write_text("flags\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert dev.cpu_has_native_bf16(str(info))
    info.write_text("flags\t: fpu sse2 avx2 avx512f\n")
    assert not dev.cpu_has_native_bf16(str(info))
    assert not dev.cpu_has_native_bf16(str(tmp_path / "absent"))
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert "emulates" in dev.precision_note(cpu, "bf16", native_bf16=False)
    assert "--precision=bf16" in dev.precision_note(cpu, "float32", native_bf16=True)
    assert dev.precision_note(cpu, "bf16", native_bf16=True) is None
    assert dev.precision_note(cpu, "float32", native_bf16=False) is None
    assert dev.precision_note(gpu, "float32", native_bf16=True) is None
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: True)
    run = Trainer(tiny_cfg(tmp_path, max_iters=1), FASHION).run()
    log = open(os.path.join(run, "log.txt")).read()
    assert "this CPU has native bfloat16" in log


# -- CIFAR-10's critic phase and learning-rate decay count within each epoch ----------------------
def test_cifar_critic_and_lr_decay_restart_every_epoch():
    """CIFAR-10/train.py:93 (``idx % critic == 0``) and :107-111 (``lr -= 2e-4/180000`` after
    ``idx % 5 == 4``), idx counted within the epoch: at 781 iterations an epoch (CIFAR-10/dataloader.py:11-12:
    50,000 images in batches of d_batch_size 64 with drop_last), 261 G steps and 156 decays per
    epoch."""
    from codegan.methods.codegan import CoDeGAN
    from codegan.training.graphs import EagerSteps
    from codegan.training.loop import Trainer

    cfg = folder_cfg("CIFAR-10")
    assert cfg.critic == 3 and cfg.lr_decay and 50000 // cfg.d_batch_size == 781
    g_steps = []
    group = {"lr": cfg.lr}
    fake = type("T", (), {"cfg": cfg, "iteration": 0, "iters_per_epoch": 781,
                          "opt": {"G": type("O", (), {"param_groups": [group]})()}})()
    emas = []
    fake.update_ema = lambda: emas.append(fake.iteration)
    method = type("M", (), {"cfg": cfg, "loop": fake,
                            "g_step": lambda s, e=0: g_steps.append(fake.iteration) or {},
                            "e_steps": lambda s, e: {}, "d_step": lambda s: {},
                            "lr_factor": lambda s, e, i: None})()  # CoDeGAN: no own schedule
    method.train_iteration = lambda epoch, idx: CoDeGAN.train_iteration(method, epoch, idx)
    fake.method = method
    fake.steps = EagerSteps(fake)  # the loop runs the method's iteration eagerly
    fake._decay_lr = lambda: Trainer._decay_lr(fake)
    fake._set_lr = lambda factor: Trainer._set_lr(fake, factor)
    lrs = []
    for _ in range(2 * 781):
        Trainer.train_iteration(fake)
        lrs.append(group["lr"])
    assert len([i for i in g_steps if i < 781]) == 261 and len(g_steps) == 522
    assert 781 in g_steps  # the phase restarts with the epoch (781 % 3 != 0)
    assert emas == g_steps  # one EMA update per G step (CIFAR-10/train.py:101-102)
    step = 2e-4 / 180000
    assert lrs[3] == pytest.approx(2e-4) and lrs[4] == pytest.approx(2e-4 - step)
    assert lrs[780] == pytest.approx(2e-4 - 156 * step)  # after the first epoch
    assert lrs[-1] == pytest.approx(2e-4 - 312 * step)


def test_crop_aspect_range_is_torchvision_default_exactly():
    """The official T is torchvision's RandomResizedCrop with its default ratio (3/4, 4/3): the
    same floats, so the log-ratio bounds of a drawn box are the same bits."""
    import torchvision.transforms as T

    from codegan.config import schema_for

    assert tuple(schema_for("codegan")["aug_crop_ratio"].default) == T.RandomResizedCrop(28).ratio
