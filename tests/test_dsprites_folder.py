"""The dSprites training folder: its settings against the official first upload, its data split
and missing-file message, its networks, and two iterations of train.py then test.py (E-based
scores plus disentanglement metrics) on a small rendered npz in a temporary folder."""

import glob
import json
import math
import os

import numpy as np
import pytest
import torch

from codegan.config import load_config
from codegan.data import dsprites as D
from codegan.data.datasets import count_images, load_images
from codegan.errors import UserError
from codegan.training.cli import test_main as evaluate_main  # (not collected as a test)
from codegan.training.cli import train_main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDER = os.path.join(REPO, "dSprites")

# The official first upload's dSprites settings, read from
# git show 348d046:dSprites/param.yml (learninginvision/CoDeGAN), with solver.py's Adam betas and
# train.py's chain rule; keys as the official file names them.
OFFICIAL = {
    "g_batch_size": 150, "d_batch_size": 300, "e_batch_size": 300,
    "zn_dim": 52, "zc_dim": 3, "fz_dim": 52, "fc_dim": 40, "ch": 1, "im_size": 64,
    "g_lr": 0.001, "d_lr": 0.002, "e_lr": 0.001,
    "beta_zc": 1, "beta_zn": 0.0001, "temp_C": 0.07,
    "max_step": 300, "chain_step": 100, "save_step": 20, "test_step": 10, "critic": 1,
    "_init": "pytorch", "loss_metric": "vanline",
    "pretrain": True, "r_batch_size": 100, "real_critic": 5,
    # solver.py: Adam(betas=(0.5, 0.999)) for G, D, E, no weight decay; train.py compares
    # epoch >= chain_step - 1; utils/util.py train_transform: RandomResizedCrop(64, (0.8, 1))
    "adam_betas": [0.5, 0.999], "weight_decay": 0.0, "chain_step_offset": 1,
    "crop_scale": [0.8, 1.0],
}


def test_param_yml_holds_the_official_values():
    cfg = load_config(os.path.join(FOLDER, "param.yml"))
    o = OFFICIAL
    same = {  # ours: official
        "g_batch_size": o["g_batch_size"], "d_batch_size": o["d_batch_size"],
        "e_batch_size": o["e_batch_size"], "zn_dim": o["fz_dim"], "zc_dim": o["zc_dim"],
        "fc_dim": o["fc_dim"], "lr": o["g_lr"], "lr_d": o["d_lr"], "beta_1": o["beta_zc"],
        "beta_2": o["beta_zn"], "temp_C": o["temp_C"], "max_step": o["max_step"],
        "save_step": o["save_step"], "test_step": o["test_step"], "critic": o["critic"],
        "adam_betas": o["adam_betas"], "weight_decay": o["weight_decay"],
        "chain_step_offset": o["chain_step_offset"], "aug_crop_scale": o["crop_scale"],
        "seed": 0,
    }
    assert {k: getattr(cfg, k) for k in same} == same
    assert o["zn_dim"] == o["fz_dim"] and o["e_lr"] == o["g_lr"]  # why one lr serves G and E
    assert o["loss_metric"] == "vanline" and cfg.gan_loss == "ns"  # BCE on a sigmoid D
    assert cfg.shared_encoder and not cfg.aug_per_sample and cfg.d_step_first is False
    assert cfg.dataset == "dsprites" and cfg.eval_protocol == "e-based"
    # the official mode's per-class labelled batch, as our class-balanced total
    assert cfg.r_batch_size == o["r_batch_size"] * o["zc_dim"]
    # the one deliberate difference (param.yml's header): the default starts from scratch, since
    # the official pre_E / pre_G / pre_D weights and labelled folder are unpublished
    assert (cfg.pretrain, cfg.few_labels, cfg.chain_step) == (False, False, 0)
    assert o["pretrain"] is True and o["chain_step"] == 100
    official_mode = load_config(os.path.join(FOLDER, "param.yml"), {
        "pretrain": True, "few_labels": True, "chain_step": 100, "load_path": "scratch"})
    assert official_mode.chain_step == o["chain_step"]


def test_networks_are_the_official_shapes():
    from codegan.folders import load_models

    cfg = load_config(os.path.join(FOLDER, "param.yml"))
    nets = load_models(FOLDER).build_nets(cfg)
    z, c = torch.randn(5, 52), torch.tensor([0, 1, 2, 0, 1])
    x = nets.G(z, c)
    assert x.shape == (5, 1, 64, 64) and 0 <= x.min() and x.max() <= 1
    assert nets.D(x).shape == (5,) and nets.D.features(x).shape == (5, 128)
    z_hat, f_c = nets.E(x)
    assert z_hat.shape == (5, 52) and f_c.shape == (5, 40)
    assert torch.allclose(f_c.norm(dim=1), torch.ones(5), atol=1e-5)
    n_params = {k: sum(p.numel() for p in getattr(nets, k).parameters()) for k in "GDE"}
    # counted from 348d046:dSprites/model.py's layer sizes (spectral norm adds no parameters)
    assert n_params == {"G": (55 * 128 + 128) + 2 * 128 + (128 * 1024 + 1024) + 2 * 1024
                        + (64 * 64 * 16 + 64) + 2 * 64 + (64 * 32 * 16 + 32) + 2 * 32
                        + (32 * 32 * 16 + 32) + 2 * 32 + (32 * 1 * 16 + 1),
                        "D": 16 * 32 + 32 + 32 * 32 * 16 + 32 + 32 * 64 * 16 + 64 + 64 * 64 * 16
                        + 64 + 1024 * 128 + 128 + 129,
                        "E": 16 * 32 + 32 + 32 * 32 * 16 + 32 + 32 * 64 * 16 + 64 + 64 * 64 * 16
                        + 64 + 1024 * 128 + 128 + 128 * 128 + 128 + 128 * 92 + 92}
    from codegan.nets import has_spectral_norm

    assert has_spectral_norm(nets.D) and has_spectral_norm(nets.E)
    assert all(float(m.bias.detach().abs().max()) == 0 for m in nets.G.modules()
               if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d)))


def write_fixture(root, n=240, seed=0):
    """A dSprites npz of ``n`` random grid images (rendered), under the official file name."""
    return D.write_subset(root, np.random.default_rng(seed).choice(D.N_IMAGES, n, replace=False))


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("dsprites"))


def test_split_is_seeded_disjoint_and_labelled_by_shape(fixture_root):
    class Cfg:
        dsprites_test_images = 60

    xt, yt = load_images("dsprites", fixture_root, "test", Cfg)
    xr, yr = load_images("dsprites", fixture_root, "train", Cfg)
    assert xt.shape == (60, 1, 64, 64) and xr.shape == (180, 1, 64, 64)
    assert xt.dtype == torch.uint8 and set(torch.unique(xt).tolist()) <= {0, 255}
    train, test = D.split_indices(240, 60)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 240
    d = D.load(fixture_root)
    assert np.array_equal(yt.numpy(), d["latents_classes"][test, 1])
    assert np.array_equal(xr[:, 0].numpy() // 255, d["imgs"][train])
    assert np.array_equal(D.split_indices(240, 60)[1], test)  # the same every time
    with pytest.raises(UserError, match="dsprites_test_images"):
        load_images("dsprites", fixture_root, "test")  # 10,000 of 240


def test_counting_a_split_reads_the_header_not_the_images(fixture_root, tiny_data, monkeypatch):
    class Cfg:
        dsprites_test_images = 60

    D._CACHE.clear()  # nothing in memory: the count must come from the npz header
    monkeypatch.setattr(D, "load", lambda *a: pytest.fail("count_images read the images"))
    assert count_images("dsprites", fixture_root, "train", Cfg) == 180
    assert count_images("dsprites", fixture_root, "test", Cfg) == 60
    with pytest.raises(UserError, match="dsprites_test_images"):
        count_images("dsprites", fixture_root, "test")  # 10,000 of 240, as load_images
    monkeypatch.undo()
    assert count_images("dsprites", fixture_root, "train", Cfg) == \
        len(load_images("dsprites", fixture_root, "train", Cfg)[1])
    assert count_images("mnist", tiny_data, "test") == 40  # counted by loading the split


def test_missing_file_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(UserError) as e:
        load_images("dsprites", str(tmp_path))
    msg = str(e.value)
    assert D.FILENAME in msg and D.URL in msg and "make_dsprites.py --out=DIR" in msg
    assert str(tmp_path) in msg and "--data_root" in msg
    with pytest.raises(SystemExit) as e:  # the command prints it alone, no traceback
        train_main(FOLDER, [f"--data_root={tmp_path}", "--device=cpu", "--progress=false"])
    assert e.value.code == 2 and D.FILENAME in capsys.readouterr().err


def test_metric_options_are_dsprites_only(capsys):
    with pytest.raises(SystemExit):
        evaluate_main(os.path.join(REPO, "MNIST"), ["--metrics=mig"])
    assert "unknown option --metrics" in capsys.readouterr().err


def test_folder_trains_two_iterations_and_test_py_scores_it(fixture_root, tmp_path):
    tiny = ["--g_batch_size=6", "--d_batch_size=6", "--e_batch_size=6", "--max_iters=2",
            "--kmeans_runs=1", "--progress=false", "--device=cpu", "--eval_batch_size=50",
            "--grid_per_class=2", "--dsprites_test_images=60", "--train_metric_n=60",
            "--train_metric_groups=5", "--train_metric_group_size=6",
            "--train_metrics=[factor_vae,mig,dhsic]"]
    run_dir = train_main(FOLDER, [*tiny, f"--data_root={fixture_root}",
                                  f"--out={tmp_path / 'runs'}"])
    ckpts = glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.pt"))
    assert [os.path.basename(c) for c in ckpts] == ["ckpt-00000002.pt"]
    assert glob.glob(os.path.join(run_dir, "samples", "grid-*.png"))
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rec = json.loads(f.readlines()[-1])
    assert rec["iteration"] == 2 and 0 <= rec["mig"] <= 1  # param.yml's train_metrics
    assert rec["dhsic"] >= 0 or math.isnan(rec["dhsic"])  # on 60 images (train_metric_n)
    shape_clf = str(tmp_path / "shape_classifier.pt")  # trained here on the fixture's 240 images
    res = evaluate_main(FOLDER, [f"--checkpoint={ckpts[0]}", f"--data_root={fixture_root}",
                                 "--device=cpu", "--kmeans_runs=1", "--metrics=factor_vae,mig",
                                 "--metric_n=200", "--metric_groups=10",
                                 "--metric_group_size=10", "--represent=z", "--shape_is=true",
                                 "--shape_is_n=40", f"--shape_classifier={shape_clf}"])
    sis = res["shape_is"]  # InfoGAN-CR's dSprites IS of G's prior samples
    assert os.path.isfile(shape_clf) and sis["n"] == 40 and sum(sis["mode_counts"]) == 40
    assert 1 - 1e-9 <= sis["shape_is"] <= 3 and 0 <= sis["mode_kl"] <= math.log(3) + 1e-9
    assert sis["classifier"] == shape_clf and sis["real_is"] >= 1
    assert "60 real test images" in res["protocol"] and 0 <= res["acc_purity"] <= 1
    dis = res["disentanglement"]
    assert set(dis) == {"factor_vae", "mig", "protocol"}
    assert 0 <= dis["factor_vae"]["factor_vae"] <= 1 and 0 <= dis["mig"]["mig"] <= 1
    assert len(dis["factor_vae"]["votes"]) == 52  # represent=z: E_z's 52 dimensions
    assert "renders them" in dis["protocol"]  # the fixture is not the full grid
    with open(os.path.splitext(ckpts[0])[0] + ".results.json") as f:
        saved = json.load(f)
    assert saved["disentanglement"]["mig"]["mig"] == dis["mig"]["mig"]
    assert saved["shape_is"]["shape_is"] == sis["shape_is"]


def test_infogan_cr_runs_on_the_folder_and_is_scored_by_q(fixture_root, tmp_path):
    """A baseline with the shape as its class code (the methods' adaptation): its disentanglement
    code is Q's continuous-code means (represent=z), as InfoGAN-CR's metric code."""
    run_dir = train_main(FOLDER, [
        "--method=infogan-cr", "--g_batch_size=6", "--d_batch_size=6", "--max_iters=2",
        "--kmeans_runs=1", "--progress=false", "--device=cpu", "--grid_per_class=1",
        "--dsprites_test_images=60", "--train_metrics=[]", f"--data_root={fixture_root}",
        f"--out={tmp_path}"])
    ckpt = glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.pt"))[0]
    res = evaluate_main(FOLDER, [f"--checkpoint={ckpt}", f"--data_root={fixture_root}",
                                 "--device=cpu", "--kmeans_runs=1", "--metrics=mig",
                                 "--metric_n=100", "--represent=z"])
    from codegan.config import validate
    from codegan.checkpoint import load_checkpoint

    m = validate(load_checkpoint(ckpt)["config"]).info_cont_dim
    assert len(res["disentanglement"]["mig"]["mi"]) == m
    assert "Q's continuous-code means" in res["disentanglement"]["protocol"]
