"""The E-based protocol (MNIST, Fashion-MNIST, CIFAR-10; learninginvision/CoDeGAN@348d046).

Encode the real test images with the method's encoder (``Method.eval_encoder``; CoDeGAN's
``E_c``), run k-means with K clusters, score the clusters against the true labels. k-means runs
``kmeans_runs`` times, each with one k-means++ initialisation and its own seed; we report the
mean and std over the runs and, as ``*_best_of_runs``, the run of lowest inertia: the same
procedure as scikit-learn's ``KMeans(n_init=runs)`` (the official code's protocol), equal to it in
distribution but not in value, since its initialisations come from one random stream and ours
from the seeds ``seed`` ... ``seed + runs - 1``.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

from ..data.datasets import DATASETS, to_float
from ..methods import METHODS
from ..metrics import CLUSTERING_METRICS


@torch.inference_mode()  # no autograd bookkeeping at all (cheaper than no_grad)
def encode(fn, x: torch.Tensor, image_range, batch_size: int, device) -> np.ndarray:
    """Apply ``fn`` (e.g. ``eval_encoder(nets, cfg, device)``) to uint8 images (N, C, H, W) in
    batches. Returns float32 features (N, d) as a NumPy array."""
    out = []
    for i in range(0, len(x), batch_size):
        xb = to_float(x[i:i + batch_size].to(device, non_blocking=True), image_range)
        out.append(fn(xb).float().cpu())
    return torch.cat(out).numpy()


def kmeans_scores(features: np.ndarray, labels: np.ndarray, k: int, runs: int = 10,
                  seed: int = 0, threads: int = 0) -> dict:
    """k-means (k clusters) ``runs`` times on ``features`` (N, d); score each clustering against
    ``labels`` (N,) with every clustering metric. ``threads``: OpenMP/BLAS threads of k-means
    (0: the library default). On cores shared with other processes 1 thread is several times
    faster than 2 (busy-waiting threads; bench/bench_speed.py); the clusters are the same.

    Returns {metric: mean, metric_std: std, metric_best_of_runs: value at lowest inertia}.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    scores = {m: [] for m in CLUSTERING_METRICS}
    inertias = []
    for r in range(runs):
        with threadpool_limits(limits=threads or None):
            km = KMeans(n_clusters=k, n_init=1, random_state=seed + r).fit(features)
        inertias.append(km.inertia_)
        for name, fn in CLUSTERING_METRICS.items():
            scores[name].append(fn(labels, km.labels_))
    best = int(np.argmin(inertias))
    out = {}
    for name, vals in scores.items():
        out[name] = float(np.mean(vals))
        out[f"{name}_std"] = float(np.std(vals))
        out[f"{name}_best_of_runs"] = float(vals[best])
    return out


def assignment_scores(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Every clustering metric of the direct assignment ``argmax(probs)`` ((N, K) class-head
    outputs) against ``labels`` (N,), as ``assign_<metric>``: one assignment, no k-means."""
    pred = probs.argmax(1)
    return {f"assign_{name}": float(fn(labels, pred)) for name, fn in CLUSTERING_METRICS.items()}


def evaluate_e_based(nets, cfg, test_x: torch.Tensor, test_y: torch.Tensor, device) -> dict:
    """The E-based protocol on the real test set (uint8 images (N, C, H, W), labels (N,)),
    with the method's encoder of real images (``Method.eval_encoder``)."""
    t0 = time.perf_counter()
    was_training = nets.training
    nets.eval()
    try:
        feats = encode(eval_encoder(nets, cfg, device), test_x, DATASETS[cfg.dataset].image_range,
                       cfg.eval_batch_size, device)
    finally:
        nets.train(was_training)
    res = kmeans_scores(feats, test_y.numpy(), cfg.zc_dim, cfg.kmeans_runs, seed=cfg.seed,
                        threads=getattr(cfg, "num_threads", 0))
    method = METHODS[cfg.method]
    what = "E_c features" if cfg.method == "codegan" else f"{cfg.method}'s encoder features"
    res["protocol"] = (f"e-based: k-means (K={cfg.zc_dim}) on {what} of {len(test_x)} real "
                       f"test images, {cfg.kmeans_runs} seeded runs")
    if method.class_head:
        res.update(assignment_scores(feats[:, -cfg.zc_dim:], test_y.numpy()))
        res["protocol"] += "; assign_*: the argmax of its class head as the cluster"
    res["eval_seconds"] = time.perf_counter() - t0
    return res


def eval_encoder(nets, cfg, device):
    """The method's encoder of real images (``Method.eval_encoder``; CoDeGAN: E_c) as a
    function images -> features, for inference (``inference_fn``)."""
    module, read = METHODS[cfg.method].eval_encoder(nets, cfg)
    return inference_fn(module, read, device)


def inference_fn(module, read, device):
    """``x -> read(module(x))`` for inference, the one path every E-based score takes (the
    trainer's evaluation and the pre-training's scores alike, so that the same weights give the
    same features, bit for bit, and the same k-means clusters). On the CPU a channels_last copy
    of ``module``: oneDNN's NHWC convolutions encode the MNIST test set 1.23x (2 threads) to 1.33x
    (1 thread) faster than NCHW on this project's CPU (bench/SPEED.md); the features agree with
    NCHW's to ~1e-6 only, which can move a k-means assignment. A copy, so the training weights,
    their optimizer state and their memory format are untouched (the MNIST encoder is 12 MB)."""
    if torch.device(device).type != "cpu":
        return lambda x: read(module(x))
    enc = copy.deepcopy(module).to(memory_format=torch.channels_last)
    return lambda x: read(enc(x.contiguous(memory_format=torch.channels_last)))
