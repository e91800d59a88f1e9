"""The E-based protocol (MNIST, Fashion-MNIST, CIFAR-10; learninginvision/CoDeGAN@348d046).

Encode the real test images with the method's encoder (the ``features`` of ``Method.represent``;
CoDeGAN's ``E_c``), run k-means with K clusters, score the clusters against the true labels.
k-means runs ``kmeans_runs`` times, each with one k-means++ initialisation and its own seed; we
report the mean and std over the runs and, as ``*_best_of_runs``, the run of lowest inertia: the
same procedure as scikit-learn's ``KMeans(n_init=runs)`` (the official code's protocol), equal
to it in distribution but not in value, since its initialisations come from one random stream
and ours from the seeds ``seed`` ... ``seed + runs - 1``.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from ..data.datasets import DATASETS, to_float
from ..methods import METHODS, RepresentView
from ..metrics import CLUSTERING_METRICS


@torch.inference_mode()  # no autograd bookkeeping at all (cheaper than no_grad)
def encode(fn, x: torch.Tensor, image_range, batch_size: int, device):
    """Apply ``fn`` (e.g. ``eval_encoder(nets, cfg, device)``) to uint8 images (N, C, H, W) in
    batches. Returns float32 features (N, d) as a NumPy array; where ``fn`` returns a dict of
    such tensors (``represent_fn``), a dict of arrays by the same keys."""
    out = []
    for i in range(0, len(x), batch_size):
        xb = to_float(x[i:i + batch_size].to(device, non_blocking=True), image_range)
        out.append(fn(xb))
    if out and isinstance(out[0], dict):
        return {k: torch.cat([o[k].float().cpu() for o in out]).numpy() for k in out[0]}
    return torch.cat([o.float().cpu() for o in out]).numpy()


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
    on the method's ``features`` (``Method.represent``); with ``class_probs`` also the direct
    assignment of their argmax."""
    t0 = time.perf_counter()
    method = METHODS[cfg.method]
    was_training = nets.training
    nets.eval()
    try:
        codes = encode(represent_fn(nets, cfg, device, ("features", "class_probs")), test_x,
                       DATASETS[cfg.dataset].image_range, cfg.eval_batch_size, device)
    finally:
        nets.train(was_training)
    res = kmeans_scores(codes["features"], test_y.numpy(), cfg.zc_dim, cfg.kmeans_runs,
                        seed=cfg.seed, threads=getattr(cfg, "num_threads", 0))
    res["protocol"] = (f"e-based: k-means (K={cfg.zc_dim}) on {method.describe(cfg)} "
                       f"({cfg.method}) of {len(test_x)} real test images, {cfg.kmeans_runs} "
                       f"seeded runs")
    if "class_probs" in codes:
        res.update(assignment_scores(codes["class_probs"], test_y.numpy()))
        res["protocol"] += "; assign_*: the argmax of its class head as the cluster"
    res["eval_seconds"] = time.perf_counter() - t0
    return res


def represent_fn(nets, cfg, device, keys=None):
    """The method's ``represent`` (``Method.represent``, the entries ``keys``; None: all) as a
    function images -> ``{key: (n, d) tensor}``, for inference (``inference_fn``: on the CPU a
    channels_last copy of the networks); ``nets`` in eval mode."""
    method = METHODS[cfg.method]
    if not isinstance(nets, nn.Module):  # a plain namespace of networks: nothing to copy
        return lambda x: method.represent(nets, cfg, x, keys)
    return inference_fn(RepresentView(method, nets, cfg, keys), lambda out: out, device)


def eval_encoder(nets, cfg, device, key: str = "features"):
    """Entry ``key`` of ``represent_fn`` (by default what the k-means clusters) as a function
    images (n, C, H, W) -> (n, d) tensor."""
    fn = represent_fn(nets, cfg, device, (key,))
    return lambda x: fn(x)[key]


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
