"""A method defined here only, registered at run time, goes through every entry point with no
other file changed: train.py's ``train_main``, test.py's ``test_main``, the comparison
(``codegan.compare``) and its report's t-SNE figure. Every evaluation reads it through
``Method.represent``; one that named a method, or read another method's encoder, fails here."""

import json
import os

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from codegan import compare
from codegan.checkpoint import list_checkpoints
from codegan.methods import METHODS
from codegan.methods.base import Method
from codegan.methods.losses import d_loss, g_loss
from codegan.nets import set_grad
from codegan.training import cli

from conftest import REPO, TINY

MNIST_DIR = os.path.join(REPO, "MNIST")
NAME = "toy-head"
TRAIN = [f"--{k}={v}" for k, v in TINY.items() if k != "max_iters"] + ["--num_threads=1"]


pytestmark = pytest.mark.usefixtures("drop_checkpoints")  # conftest.py


class ToyHead(Method):
    """G and D of the folder, and a small class head ``T`` (no encoder of the folder's) that
    learns to tell G's class codes from its images; nothing but ``represent`` says what it
    encodes (no ``eval_encoder``)."""

    name = NAME
    class_head = True
    code_names = {"features": "the toy head's class softmax",
                  "class_probs": "the toy head's class softmax"}

    @classmethod
    def attach(cls, nets, cfg, fresh_nets):
        # folder_encoders is False: the folder's E_c is not built, so an evaluation that read
        # it would fail here
        nets.T = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 16), nn.ReLU(),
                               nn.Linear(16, cfg.zc_dim))

    def networks(self):
        return {"T": self.nets.T}

    def optimizers(self):
        nets, loop = self.nets, self.loop
        return {"G": loop.adam([*nets.G.parameters(), *nets.T.parameters()]),
                "D": loop.adam(nets.D.parameters())}

    def train_iteration(self, epoch, idx):
        nets, loop, cfg = self.nets, self.loop, self.cfg
        set_grad([nets.D], True)
        set_grad([nets.G, nets.T], False)
        real = loop.next_real()
        with torch.no_grad():
            fake = nets.G(*loop.latents(len(real)))
        loss_d = d_loss(cfg.gan_loss, nets.D(real), nets.D(fake))
        self.minimize("D", loss_d)
        set_grad([nets.D], False)
        set_grad([nets.G, nets.T], True)
        z, c = loop.latents(cfg.g_batch_size)
        fake = nets.G(z, c)
        head = F.cross_entropy(nets.T(fake), c)
        self.minimize("G", g_loss(nets.D(fake), cfg.gan_loss) + head)
        loop.update_ema()
        return {"D/loss": loss_d.detach(), "T/ce": head.detach()}

    @classmethod
    def codes(cls, cfg):
        return ("features", "class_probs", "class")

    @classmethod
    def represent(cls, nets, cfg, x, keys=None):
        """``features`` = ``class_probs`` = ``class``: T's softmax (n, K), rows summing to 1."""
        p = torch.softmax(nets.T(x).float(), 1)
        return {"features": p, "class_probs": p, "class": p}


def test_a_toy_method_trains_tests_and_compares_through_represent(tiny_data, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.setitem(METHODS, NAME, ToyHead)
    # train.py: a few iterations, evaluated at the end through the hook
    run = cli.train_main(MNIST_DIR, [f"--method={NAME}", f"--data_root={tiny_data}",
                                     f"--out={tmp_path / 'runs'}", "--max_iters=3", *TRAIN])
    with open(os.path.join(run, "metrics.jsonl")) as f:
        rec = [json.loads(line) for line in f][-1]
    assert rec["iteration"] == 3
    assert 0.0 <= rec["acc"] <= 1.0 and 0.0 <= rec["assign_acc"] <= 1.0  # k-means and argmax
    ckpt = list_checkpoints(run)[-1]

    # test.py: the checkpoint's networks rebuilt without the loop, scored through the hook
    res = cli.test_main(MNIST_DIR, [f"--checkpoint={ckpt}",
                                    f"--data_root={tiny_data}", "--kmeans_runs=1",
                                    "--device=cpu"])
    assert "the toy head's class softmax" in res["protocol"] and NAME in res["protocol"]
    assert "assign_*" in res["protocol"] and 0.0 <= res["assign_nmi"] <= 1.0
    capsys.readouterr()

    # the comparison at a 2-iteration budget, with its report's t-SNE of fakes by class code
    out = tmp_path / "cmp"
    md = compare.run_compare([f"--folder={MNIST_DIR}", f"--methods={NAME}", "--seeds=0",
                              "--max_iters=2", f"--out={out}", f"--data_root={tiny_data}",
                              "--tsne_per_class=3", *TRAIN])
    text = open(md).read()
    assert f"| {NAME} |" in text
    for f in ("grid-" + NAME + ".png", "tsne.png"):
        assert os.path.isfile(out / f), f
    assert min(Image.open(out / "tsne.png").size) > 100
