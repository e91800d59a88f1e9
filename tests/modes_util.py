"""Helpers of the mode tests (pre-training, few labels, meta): a tiny synthetic Fashion-MNIST
in a temporary folder and tiny settings, so every run takes a second or two."""

import os

import yaml

from conftest import make_tiny_mnist

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = os.path.join(REPO, "Fashion-MNIST")

# two-iteration runs, tiny batches, one k-means run, no progress bar
TINY = {"g_batch_size": 8, "d_batch_size": 8, "e_batch_size": 8, "kmeans_runs": 1,
        "progress": False, "max_iters": 2, "device": "cpu", "eval_batch_size": 64,
        "n_labels": 20, "r_batch_size": 10,
        "pretrain_batch_size": 8, "pretrain_iters": 2, "meta_iters": 2, "meta_batch": 2,
        "meta_n_way": 3, "meta_k_shot": 1, "meta_query": 1, "meta_inner_steps": 1}


def make_tiny(root, n_train=60, n_test=30, seed=0, name="fashion_mnist.npz"):
    """conftest's synthetic 28x28 .npz, under Fashion-MNIST's file name."""
    return make_tiny_mnist(root, n_train, n_test, seed, name, noise=60)


def fashion_cfg(data_root, out, **over):
    """Fashion-MNIST/param.yml with the tiny settings, data from ``data_root``, runs in ``out``."""
    from codegan.config import load_config

    return load_config(os.path.join(FASHION, "param.yml"),
                       {**TINY, "data_root": str(data_root), "out": str(out), **over})


def separate_encoder_folder(root, ec_batchnorm=False):
    """A dataset folder whose models.py builds separate, tiny E_c and E_z (as CIFAR-10 does),
    with Fashion-MNIST's settings. ``ec_batchnorm``: E_c has a BatchNorm layer, as CIFAR-10's
    ResNet-18, so the rows of one E_c call share batch statistics."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(FASHION, "param.yml")) as f:
        values = yaml.safe_load(f)
    values.update(shared_encoder=False, ec_batch_size=8, ez_batch_size=8)
    with open(os.path.join(root, "param.yml"), "w") as f:
        yaml.safe_dump(values, f)
    hidden = ("nn.Linear(784, 16), nn.BatchNorm1d(16), nn.Linear(16, cfg.fc_dim)" if ec_batchnorm
              else "nn.Linear(784, cfg.fc_dim)")
    with open(os.path.join(root, "models.py"), "w") as f:
        f.write(
            "import torch.nn.functional as F\n"
            "from torch import nn\n"
            "from codegan.nets import Nets\n"
            "from codegan.nets.infogan import Discriminator, Generator\n\n"
            "class Norm(nn.Module):\n"
            "    def forward(self, x):\n"
            "        return F.normalize(x, dim=1)\n\n"
            "def build_nets(cfg):\n"
            "    return Nets(G=Generator(cfg.zn_dim, cfg.zc_dim), D=Discriminator(),\n"
            f"                E_c=nn.Sequential(nn.Flatten(), {hidden}, Norm()),\n"
            "                E_z=nn.Sequential(nn.Flatten(), nn.Linear(784, cfg.zn_dim)))\n")
    return str(root)
