"""Helpers of the mode tests (pre-training, few labels, meta): a tiny synthetic Fashion-MNIST
in a temporary folder and tiny settings, so every run takes a second or two."""

import os

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
