"""Every mode end to end in two iterations, chain_step's freeze of E_c, and the bad combinations
rejected with a clear message."""

import os

import pytest
import torch
from modes_util import FASHION, TINY, fashion_cfg, make_tiny, separate_encoder_folder

from codegan.errors import UserError


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Tiny data, SimCLR and MAML weights from two-step pre-trainings, and the checkpoint of a
    two-iteration unsupervised run (the G and D that load_path starts from)."""
    from codegan.pretraining.maml import MetaPretrainer
    from codegan.pretraining.simclr import SimCLRPretrainer
    from codegan.training.loop import Trainer

    root = tmp_path_factory.mktemp("modes")
    data = make_tiny(root / "data")
    w = {"data": data, "runs": str(root / "runs"),
         "simclr": str(root / "simclr.pt"), "maml": str(root / "maml.pt")}
    SimCLRPretrainer(fashion_cfg(data, root, pretrain_path=w["simclr"]), FASHION).run()
    MetaPretrainer(fashion_cfg(data, root, meta_path=w["maml"]), FASHION).run()
    run = Trainer(fashion_cfg(data, w["runs"], mode="unsup"), FASHION).run()
    w["unsup_run"] = run
    w["ckpt"] = os.path.join(run, "checkpoints", "ckpt-00000002.pt")
    return w


def read_metrics(run):
    import json

    with open(os.path.join(run, "metrics.jsonl")) as f:
        return json.loads(f.read().splitlines()[-1])


def test_unsupervised_run_made_a_scored_checkpoint(world):
    m = read_metrics(world["unsup_run"])
    assert m["iteration"] == 2 and 0 <= m["acc"] <= 1 + 1e-9
    assert os.path.isfile(world["ckpt"])
    assert not os.path.exists(os.path.join(world["unsup_run"], "labelled_indices.json"))


@pytest.mark.parametrize("mode", ["pretrained", "labels", "labels+pretrained", "labels+meta"])
def test_each_mode_trains_two_iterations(world, mode):
    from codegan.checkpoint import load_checkpoint
    from codegan.training.loop import Trainer

    over = {"pretrained": dict(pretrain=True, chain_step=1, load_path=world["ckpt"]),
            "labels": dict(few_labels=True),
            "labels+pretrained": dict(few_labels=True, pretrain=True, chain_step=1,
                                      load_path=world["ckpt"]),
            "labels+meta": dict(few_labels=True, meta=True, chain_step=1,
                                load_path=world["ckpt"])}[mode]
    cfg = fashion_cfg(world["data"], world["runs"], mode=mode.replace("+", "-"),
                      pretrain_path=world["simclr"], meta_path=world["maml"], **over)
    t = Trainer(cfg, FASHION)
    if cfg.pretrain or cfg.meta:
        blob = torch.load(world["simclr"] if cfg.pretrain else world["maml"], weights_only=True)
        assert all(torch.equal(v, blob["state_dict"][k]) for k, v in t.nets.E.state_dict().items())
    if cfg.load_path:  # G and D start from the earlier run's, E from the pre-training
        src = load_checkpoint(cfg.load_path)["nets"]
        for k, v in t.nets.state_dict().items():
            if k.startswith(("G.", "D.")):
                assert torch.equal(v, src[k]), k
    run = t.run()
    m = read_metrics(run)
    assert m["iteration"] == 2 and 0 <= m["nmi"] <= 1 + 1e-9
    assert os.path.isfile(os.path.join(run, "checkpoints", "ckpt-00000002.pt"))
    assert os.path.isfile(os.path.join(run, "labelled_indices.json")) == cfg.few_labels
    if cfg.pretrain or cfg.meta:  # E_c frozen: the scores are the pre-training's own
        blob = torch.load(world["simclr"] if cfg.pretrain else world["maml"], weights_only=True)
        assert m["nmi"] == pytest.approx(blob["scores"]["nmi"])


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("layout", ["shared", "separate", "chain_iters"])
def test_ec_is_bit_identical_before_chain_step_and_trains_from_it(tmp_path, layout):
    """16 training images / d_batch_size 8 = 2 iterations per epoch; chain_step 1 freezes E_c
    for iterations 0-1 (chain_iters 1: for iteration 0) while G learns through it."""
    from codegan.training.loop import Trainer

    data = make_tiny(tmp_path / "data", n_train=16, n_test=20)
    folder = FASHION if layout != "separate" else separate_encoder_folder(tmp_path / "sep")
    from codegan.config import load_config

    weights = str(tmp_path / "ec.pt")
    over = {**TINY, "data_root": data, "out": str(tmp_path / "runs"), "pretrain": True,
            "pretrain_path": weights, "max_iters": 4, "load_path": "scratch"}
    over.update(chain_step=1) if layout != "chain_iters" else over.update(chain_iters=1)
    cfg = load_config(os.path.join(folder, "param.yml"), over)
    # a weights file as the pre-training writes it, with weights that differ from the init
    ref = Trainer(cfg.replace(pretrain=False), folder).nets
    ec = ref.E if ref.shared else ref.E_c
    torch.manual_seed(7)
    sd = {k: torch.randn_like(v) * 0.05 for k, v in ec.state_dict().items()}
    torch.save({"format": "codegan-pretrained-E_c", "dataset": "fashion_mnist",
                "state_dict": sd}, weights)

    t = Trainer(cfg, folder)
    E_c = t.nets.E if t.nets.shared else t.nets.E_c
    assert same(snapshot(E_c), sd)  # loaded weights are the saved ones
    frozen_for = 1 if layout == "chain_iters" else t.iters_per_epoch
    assert t.iters_per_epoch == 2
    g0 = snapshot(t.nets.G)
    ez0 = None if t.nets.shared else snapshot(t.nets.E_z)
    for _ in range(frozen_for):
        t.train_iteration()
        assert same(snapshot(E_c), sd), f"E_c moved at iteration {t.iteration} before chain_step"
    assert not same(snapshot(t.nets.G), g0)  # G learnt meanwhile
    if ez0 is not None:
        assert not same(snapshot(t.nets.E_z), ez0)  # E_z trains from step 0
    t.train_iteration()
    assert not same(snapshot(E_c), sd)  # from chain_step on, E_c trains


def test_bad_combinations_are_rejected_clearly(world, tmp_path, capsys):
    from codegan.training.cli import train_main
    from codegan.training.loop import Trainer

    data, runs = world["data"], world["runs"]
    with pytest.raises(UserError, match="needs 'few_labels: true'"):
        fashion_cfg(data, runs, meta=True)
    with pytest.raises(UserError, match="only one of 'pretrain' and 'meta'"):
        fashion_cfg(data, runs, few_labels=True, meta=True, pretrain=True)
    with pytest.raises(UserError, match="load_path .*not found"):
        Trainer(fashion_cfg(data, runs, load_path=str(tmp_path / "none.pt")), FASHION)
    with pytest.raises(UserError, match="pretrain.py"):
        Trainer(fashion_cfg(data, runs, pretrain=True, pretrain_path=str(tmp_path / "no.pt"),
                            load_path="scratch"),
                FASHION)
    with pytest.raises(UserError, match="was pre-trained on mnist"):
        blob = torch.load(world["simclr"], weights_only=True)
        torch.save({**blob, "dataset": "mnist"}, str(tmp_path / "mnist.pt"))
        Trainer(fashion_cfg(data, runs, pretrain=True, pretrain_path=str(tmp_path / "mnist.pt"),
                            load_path="scratch"),
                FASHION)
    with pytest.raises(UserError, match="not a CoDeGAN checkpoint"):
        Trainer(fashion_cfg(data, runs, load_path=world["simclr"]), FASHION)
    with pytest.raises(UserError, match="chain_iters"):
        fashion_cfg(data, runs, chain_iters=2)  # max_iters is 2: E_c would never train
    with pytest.raises(SystemExit) as e:  # the command prints one line, exit status 2
        train_main(FASHION, ["--meta=true", f"--data_root={data}"])
    assert e.value.code == 2 and "few_labels" in capsys.readouterr().err


def dataset_folders():
    from modes_util import REPO

    return sorted(d for d in os.listdir(REPO)
                  if os.path.isfile(os.path.join(REPO, d, "param.yml"))
                  and os.path.isfile(os.path.join(REPO, d, "models.py")))


def test_every_dataset_folder_has_the_mode_commands_and_settings():
    """Every folder has the pre-training commands; the mode settings are CoDeGAN's (param.yml
    lists those that differ from their defaults, docs/settings.md all), and each mode a folder
    lists under ``modes:`` resolves to settings that differ from the folder's unsupervised ones
    in a mode switch."""
    from modes_util import REPO

    from codegan.config import folder_modes, load_config
    from codegan.methods import METHODS

    mode_keys = {"pretrain", "meta", "few_labels", "n_labels", "r_batch_size", "label_seed",
                 "labels_file", "chain_step", "chain_iters", "pretrain_path", "meta_path"}
    assert mode_keys <= set(METHODS["codegan"].settings)
    folders = dataset_folders()
    assert {"MNIST", "Fashion-MNIST"} <= set(folders)
    for d in folders:
        for cmd in ("pretrain.py", "meta_pretrain.py"):
            assert os.path.isfile(os.path.join(REPO, d, cmd)), f"{d}/{cmd} missing"
        path = os.path.join(REPO, d, "param.yml")
        plain = load_config(path)
        assert not (plain.pretrain or plain.meta), d  # the default is the unsupervised mode
        for mode in folder_modes(os.path.join(REPO, d)):
            c = load_config(path, {"mode": mode})
            assert c.pretrain or c.meta or c.few_labels, (d, mode)


@pytest.mark.parametrize("cmd", ["pretrain.py", "meta_pretrain.py"])
def test_the_mnist_commands_run(tmp_path, monkeypatch, cmd):
    """The thin per-folder commands, run as scripts, on a tiny MNIST-format set."""
    import runpy
    import sys

    from modes_util import REPO

    data = make_tiny(tmp_path / "data", name="mnist.npz")
    args = [f"--{k}={v}" for k, v in TINY.items()] + [
        f"--data_root={data}", f"--pretrain_path={tmp_path}/s.pt", f"--meta_path={tmp_path}/m.pt"]
    monkeypatch.setattr(sys, "argv", [cmd] + args)
    runpy.run_path(os.path.join(REPO, "MNIST", cmd), run_name="__main__")
    out = tmp_path / ("s.pt" if cmd == "pretrain.py" else "m.pt")
    blob = torch.load(str(out), weights_only=True)
    assert blob["dataset"] == "mnist" and blob["iterations"] == 2
