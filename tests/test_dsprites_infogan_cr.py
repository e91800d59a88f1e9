"""InfoGAN-CR's own dSprites benchmark (its official code): latents without a
class code (zc_dim 0), InfoGAN-CR's networks and published settings, its CR pairs over the
continuous codes only, two iterations of train.py + test.py for infogan and infogan-cr on a small
rendered npz, the training-time metric subset in metrics.jsonl, and the latent traversal
figures (codegan.evaluation.traversal)."""

import glob
import json
import os

import pytest
import torch
from PIL import Image

from codegan.config import DISENTANGLEMENT_METRICS, load_config
from codegan.errors import UserError
from codegan.latent import latent_input, sample_latent
from codegan.methods.infogan_cr import cr_pairs
from codegan.training.cli import test_main as evaluate_main  # (not collected as a test)
from codegan.training.cli import train_main

from test_dsprites_folder import FOLDER, REPO, write_fixture

PARAM = os.path.join(FOLDER, "param.yml")
TINY_METRICS = ["--train_metric_n=60", "--train_metric_groups=5", "--train_metric_group_size=6"]


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("dsprites_cr"), n=120, seed=1)


# -- latents and networks -------------------------------------------------------------------------
def test_no_class_code_latents_are_z_alone_and_g_takes_z():
    z, c = sample_latent(7, 10, 0, prior="uniform", generator=torch.Generator().manual_seed(0))
    assert z.shape == (7, 10) and c is None and z.abs().max() <= 1
    assert torch.equal(latent_input(z, None, 0), z)  # G's input: z itself, no one-hot
    z3, c3 = sample_latent(7, 10, 3)
    assert latent_input(z3, c3, 3).shape == (7, 13)  # with a class code: unchanged
    from codegan.nets import dsprites as N

    cfg = load_config(PARAM, {"method": "infogan"})
    nets = N.infogan_cr_nets(cfg)
    assert nets["G"].fc[0].in_features == 10  # 5 codes + 5 noise, no class entries
    x = nets["G"](z, None)
    assert x.shape == (7, 1, 64, 64) and 0 <= x.min() and x.max() <= 1


def test_infogan_cr_networks_are_the_official_layers():
    """fjxmlzn/InfoGAN-CR InfoGAN-CR_dSprites/gan/network.py and op.py."""
    from codegan.nets import dsprites as N
    from codegan.nets import has_spectral_norm

    cfg = load_config(PARAM, {"method": "infogan-cr"})
    G, D = N.infogan_cr_nets(cfg).values()
    Q, H = N.InfoGANCRQ(128, 0, 5), N.InfoGANCRPairDiscriminator(1, 5)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(G) == ((10 * 128 + 128) + 2 * 128 + (128 * 1024 + 1024) + 2 * 1024
                        + (64 * 64 * 16 + 64) + 2 * 64 + (64 * 32 * 16 + 32) + 2 * 32
                        + (32 * 32 * 16 + 32) + 2 * 32 + (32 * 16 + 1))
    trunk = 32 * 32 * 16 + 32 + 32 * 64 * 16 + 64 + 64 * 64 * 16 + 64 + 1024 * 128 + 128
    assert count(D) == 16 * 32 + 32 + trunk + 129
    assert count(Q) == 128 * 128 + 128 + 128 * 5 + 5  # FC 128 -> FC 5, no BatchNorm
    assert count(H) == 2 * 16 * 32 + 32 + trunk + 128 * 5 + 5  # the pair's 2 channels in
    slopes = {m.negative_slope for net in (D, Q, H) for m in net.modules()
              if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.2}
    g_acts = [type(m).__name__ for m in G.deconv if not isinstance(m, (torch.nn.ConvTranspose2d,
                                                                     torch.nn.BatchNorm2d))]
    assert g_acts == ["LeakyReLU"] * 3  # CoDeGAN's dSprites G has ReLU there
    assert all(has_spectral_norm(m) for m in (D, Q, H))
    assert not has_spectral_norm(H.fc) and not any(
        isinstance(m, torch.nn.BatchNorm1d) for m in Q.modules())
    # N(0, 0.02) weights, zero biases, BatchNorm scale 1
    w = G.fc[3].weight.detach()
    assert abs(float(w.std()) - 0.02) < 1e-3 and abs(float(w.mean())) < 1e-3
    conv = D.trunk[0][0].parametrizations.weight.original.detach()
    assert float(conv.abs().max()) <= 0.04 + 1e-7  # truncated at 2 std
    assert all(float(m.bias.detach().abs().max()) == 0 for m in G.modules() if hasattr(m, "bias")
               and isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d)))
    assert all(bool((m.weight == 1).all()) for m in G.modules()
               if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))


# -- settings -------------------------------------------------------------------------------------
def test_published_dsprites_settings_and_who_may_drop_the_class_code():
    info = load_config(PARAM, {"method": "infogan"})
    cr = load_config(PARAM, {"method": "infogan-cr"})
    # InfoGAN-CR_dSprites/config.py and gan_task.py
    for cfg in (info, cr):
        assert (cfg.zc_dim, cfg.zn_dim, cfg.info_cont_dim, cfg.z_prior, cfg.z_scale) == \
            (0, 10, 5, "uniform", 1.0)
        assert (cfg.lr, cfg.lr_d, cfg.adam_betas, cfg.info_weight_cont) == \
            (1e-3, 2e-3, [0.5, 0.999], 0.05)
        assert (cfg.g_batch_size, cfg.d_batch_size, cfg.max_step, cfg.gan_loss) == \
            (64, 64, 28, "ns")
        assert cfg.infogan_cr_nets and cfg.train_metrics == ["factor_vae", "mig"]
    assert (cr.cr_weight, cr.cr_start, cr.cr_gap, cr.lr_h, cr.g_steps) == \
        (2.0, 288000 / 322560, 0.0, 2e-3, 2)
    for method in ("codegan", "clustergan"):
        with pytest.raises(UserError, match="zc_dim' is 0"):
            load_config(PARAM, {"method": method, "zc_dim": 0})
    with pytest.raises(UserError, match="info_cont_dim"):
        load_config(PARAM, {"method": "infogan-cr", "info_cont_dim": 1})
    with pytest.raises(UserError, match="infogan_cr_nets"):
        load_config(os.path.join(REPO, "MNIST", "param.yml"),
                    {"method": "infogan", "infogan_cr_nets": True})
    with pytest.raises(UserError, match="train_metrics"):
        load_config(os.path.join(REPO, "MNIST", "param.yml"), {"train_metrics": ["mig"]})
    # the shape as a class code (this project's adaptation) is still one override away
    assert load_config(PARAM, {"method": "infogan-cr", "zc_dim": 3}).zc_dim == 3
    from codegan.metrics.disentanglement import METRICS

    assert tuple(METRICS) == DISENTANGLEMENT_METRICS


# -- InfoGAN-CR's pairs over the continuous codes ---------------------------------------------------
def test_cr_pairs_without_a_class_code_share_one_continuous_code():
    g = torch.Generator().manual_seed(0)
    n, zn, m, gap = 5000, 10, 5, 0.6
    z1, c1, z2, c2, i = cr_pairs(n, zn, 0, m, gap=gap, scale=1.0, generator=g)
    assert c1 is None and c2 is None and z1.shape == z2.shape == (n, zn)
    assert int(i.min()) == 0 and int(i.max()) == m - 1  # factor j = continuous code j
    assert torch.equal(z1[:, m:], z2[:, m:])  # the noise is shared
    for j in range(m):
        shared = i == j
        assert torch.equal(z1[shared, j], z2[shared, j])
        assert ((z1[~shared, j] - z2[~shared, j]).abs() >= gap - 1e-6).all()  # the gap rule
    assert z1.abs().max() <= 1 and z2.abs().max() <= 1
    counts = torch.bincount(i, minlength=m).float() / n
    assert (counts - 1 / m).abs().max() < 0.03


# -- the folder, end to end -------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["infogan", "infogan-cr"])
def test_two_iterations_then_test_py_with_metrics_and_traversal(method, fixture_root, tmp_path):
    run_dir = train_main(FOLDER, [
        f"--method={method}", "--g_batch_size=6", "--d_batch_size=6", "--max_iters=2",
        "--progress=false", "--device=cpu", "--grid_per_class=4", "--dsprites_test_images=30",
        *TINY_METRICS, f"--data_root={fixture_root}", f"--out={tmp_path}"])
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rec = json.loads(f.readlines()[-1])
    assert rec["iteration"] == 2 and "not applicable" in rec["protocol"] and "acc" not in rec
    assert 0 <= rec["factor_vae"] <= 1 and 0 <= rec["mig"] <= 1  # the training-time subset
    assert "n=60, 5 groups of 6" in rec["disentanglement_protocol"]
    # the periodic grid without a class code is a traversal: 5 codes x 4 values
    grid = Image.open(glob.glob(os.path.join(run_dir, "samples", "grid-*.png"))[0])
    assert grid.size == (4 * 66 + 2, 5 * 66 + 2)
    ckpt = glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.pt"))[0]
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert state["nets"]["Q.net.2.parametrizations.weight.original"].shape == (5, 128)
    if method == "infogan-cr":
        assert state["nets"]["H.fc.weight"].shape == (5, 128)  # the 5 continuous codes only
    args = [f"--checkpoint={ckpt}", f"--data_root={fixture_root}", "--device=cpu",
            "--metrics=mig,factor_vae", "--metric_n=60", "--metric_groups=5",
            "--metric_group_size=6", "--traversal=true"]
    res = evaluate_main(FOLDER, args)
    assert "not applicable" in res["protocol"]
    dis = res["disentanglement"]
    assert len(dis["mig"]["mi"]) == 5 and "continuous-code means" in dis["protocol"]
    trav = res["figures"]["traversal"]
    assert trav.endswith(".traversal.png") and "classgrid" not in res["figures"]
    assert Image.open(trav).size == (10 * 66 + 2, 5 * 66 + 2)  # rows = codes, 10 values
    again = evaluate_main(FOLDER, args)  # never overwrites an earlier figure or result
    assert again["figures"]["traversal"].endswith(".traversal-1.png")
    with pytest.raises(SystemExit):
        evaluate_main(FOLDER, [f"--checkpoint={ckpt}", f"--data_root={fixture_root}",
                               "--device=cpu", "--represent=c", "--metrics=mig"])


# -- traversals ------------------------------------------------------------------------------------
def test_traversal_latents_vary_one_code_per_row():
    from codegan.evaluation.traversal import default_dims, traversal_latents, value_range

    cr = load_config(PARAM, {"method": "infogan-cr"})
    z, c = traversal_latents(cr, steps=7, reps=2, seed=3)
    assert z.shape == (5 * 2 * 7, 10) and c is None and default_dims(cr) == [0, 1, 2, 3, 4]
    z = z.view(5, 2, 7, 10)
    for j in range(5):
        assert torch.allclose(z[j, :, :, j], torch.linspace(-1, 1, 7).expand(2, 7))
        others = [k for k in range(10) if k != j]
        assert torch.equal(z[j][:, :, others], z[j][:, :1, others].expand(2, 7, 9))
    assert not torch.equal(z[0, 0, 0, 1:], z[0, 1, 0, 1:])  # two base draws
    co = load_config(PARAM)  # CoDeGAN: z ~ N(0, I) without designated codes
    z, c = traversal_latents(co, steps=5, class_code=2)
    assert z.shape == (10 * 5, 52) and (c == 2).all() and value_range(co) == (-2.0, 2.0)
    with pytest.raises(UserError, match="dims"):
        traversal_latents(co, dims=[52])


def test_codegan_checkpoint_gets_a_traversal_and_the_class_code_grid(fixture_root, tmp_path):
    from codegan.evaluation.traversal import main as traversal_main

    run_dir = train_main(FOLDER, [
        "--g_batch_size=6", "--d_batch_size=6", "--e_batch_size=6", "--max_iters=1",
        "--kmeans_runs=1", "--progress=false", "--device=cpu", "--grid_per_class=2",
        "--dsprites_test_images=30", "--train_metrics=[]", f"--data_root={fixture_root}",
        f"--out={tmp_path}"])
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rec = json.loads(f.readlines()[-1])
    assert "acc" in rec and "factor_vae" not in rec  # train_metrics: [] turns them off
    ckpt = glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.pt"))[0]
    res = traversal_main([f"--checkpoint={ckpt}", f"--out={tmp_path / 'fig'}", "--steps=6",
                          "--dims=0,3,7", "--device=cpu"])
    assert res["dims"] == [0, 3, 7]
    assert Image.open(res["traversal"]).size == (6 * 66 + 2, 3 * 66 + 2)
    assert Image.open(res["classgrid"]).size == (6 * 66 + 2, 3 * 66 + 2)  # 3 shapes x 6


def test_infogan_cr_saves_the_infogan_modified_state_before_its_switch(fixture_root, tmp_path):
    """Official: at the CR switch it evaluates and saves the state of iteration global_id - 1,
    the paper's "InfoGAN (modified)" column."""
    run_dir = train_main(FOLDER, [
        "--method=infogan-cr", "--g_batch_size=6", "--d_batch_size=6", "--max_iters=4",
        "--cr_start=0.5", "--progress=false", "--device=cpu", "--grid_per_class=1",
        "--dsprites_test_images=30", "--train_metrics=[mig]", *TINY_METRICS,
        f"--data_root={fixture_root}", f"--out={tmp_path}"])
    ckpts = sorted(os.path.basename(p) for p in
                   glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.pt")))
    assert ckpts == ["ckpt-00000002.pt", "ckpt-00000004.pt"]  # the switch's, and the end's
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        assert [json.loads(line)["iteration"] for line in f] == [2, 4]
