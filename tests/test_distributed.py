"""``torchrun --nproc_per_node=2 train.py`` on the CPU (gloo): the processes train in lockstep
on parts of the global batch. Where every loss is a mean of per-image terms and no network has
BatchNorm (ClusterGAN on a BatchNorm-free G), two processes compute the single process's
weights; with BatchNorm and SupCon (CoDeGAN on MNIST) they cannot (each process normalises and
contrasts its own part), so there the test is that it trains, that one process wrote the run,
and that its checkpoint resumes in one process."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

from codegan import checkpoint as ckpt_io
from codegan.training.runs import list_runs
from conftest import REPO, TINY

PLAIN_G_MODELS = '''"""MNIST with a BatchNorm-free G (a test fixture)."""
import torch
from torch import nn

from codegan.latent import latent_input
from codegan.nets import Nets, init_normal
from codegan.nets.infogan import Discriminator, SharedEncoder


class PlainG(nn.Module):
    def __init__(self, zn_dim, zc_dim):
        super().__init__()
        self.zc_dim = zc_dim
        self.net = nn.Sequential(nn.Linear(zn_dim + zc_dim, 128), nn.ReLU(),
                                 nn.Linear(128, 784))
        init_normal(self)

    def forward(self, z, c):
        return torch.sigmoid(self.net(latent_input(z, c, self.zc_dim))).view(-1, 1, 28, 28)


def build_nets(cfg):
    return Nets(G=PlainG(cfg.zn_dim, cfg.zc_dim), D=Discriminator(1, 28),
                E=SharedEncoder(cfg.zn_dim, cfg.fc_dim, 1, 28))
'''


def folder(tmp_path, models=None):
    d = tmp_path / "MNIST"
    d.mkdir()
    for f in ("param.yml", "train.py", "test.py", "models.py"):
        shutil.copy(os.path.join(REPO, "MNIST", f), d)
    if models:
        (d / "models.py").write_text(models)
    return str(d)


def train(d, data, out, nproc, resume=None, **over):
    base = {"resume": resume} if resume else {**TINY, "num_threads": 1}  # a resume keeps them
    args = [f"--{k}={v}" for k, v in {**base, "data_root": data, "out": out, **over}.items()]
    launcher = [sys.executable] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}"]
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([*launcher, "train.py", *args], cwd=d, env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def final(out):
    runs = list_runs(out)
    return torch.load(ckpt_io.list_checkpoints(runs[-1])[-1], weights_only=True), runs


def test_two_processes_compute_the_single_process_updates(tiny_data, tmp_path):
    d = folder(tmp_path, PLAIN_G_MODELS)
    over = dict(method="clustergan", critic=2, max_iters=6)
    train(d, tiny_data, str(tmp_path / "one"), 1, **over)
    train(d, tiny_data, str(tmp_path / "two"), 2, **over)
    a, _ = final(str(tmp_path / "one"))
    b, runs = final(str(tmp_path / "two"))
    assert len(runs) == 1 and b["iteration"] == 6  # rank 0 alone wrote the run
    with open(os.path.join(runs[0], "log.txt")) as f:
        assert "device cpu x 2 processes" in f.read()
    for k, v in a["nets"].items():
        assert torch.allclose(v, b["nets"][k], atol=1e-5, rtol=1e-4), k


def test_a_checkpoint_of_two_processes_resumes_in_one(tiny_data, tmp_path):
    d = folder(tmp_path)
    out = str(tmp_path / "runs")
    p = train(d, tiny_data, out, 2, max_iters=2)
    assert p.stdout.count("done:") == 1  # one process reports, as one writes
    state, runs = final(out)
    assert state["iteration"] == 2 and len(runs) == 1
    assert all(torch.isfinite(v).all() for v in state["nets"].values() if v.is_floating_point())
    ck = ckpt_io.list_checkpoints(runs[0])[-1]
    train(d, tiny_data, out, 1, resume=ck, max_iters=3)
    assert final(out)[0]["iteration"] == 3


def test_a_global_batch_that_does_not_split_is_one_clear_error(tiny_data, tmp_path):
    d = folder(tmp_path)
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        "--nproc_per_node=2", "train.py", f"--data_root={tiny_data}",
                        f"--out={tmp_path}", "--g_batch_size=7", "--device=cpu"],
                       cwd=d, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    assert "'g_batch_size' (7) is the global batch and must split evenly over the 2" in p.stderr
