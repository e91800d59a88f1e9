"""The G-based protocol (COIL-20, 3D-Chairs, 3D-Cars; learninginvision/CoDeGAN@348d046).

What is computed, per evaluation:

1. G, in eval mode, generates ``g_eval_per_class`` images (official: 1000) for every code
   ``c = 0..K-1`` from fixed noise seeded by ``seed`` (the same noise at every evaluation).
2. The real-data classifier (``codegan.evaluation.classifier``; ``classifier_arch``: ResNet-50
   with the CIFAR stem, the official ``Classifier()``, by default, or ResNet-18) gives each image
   K raw logits. Its training recipe is this project's; the official one is not published.
3. The logits are turned into cluster labels and scored against ``c``:

   - ``g_eval_assign: kmeans`` (COIL-20, 3D-Chairs; official ``test_acc.py``): k-means with K
     clusters on the features ``g_eval_features``: ``logits``, the raw logits (official), or
     ``softmax``, the softmax probabilities (this project's earlier choice, kept for comparison
     with earlier results). ``kmeans_runs`` seeded single-init runs (seeds ``seed``,
     ``seed + 1``, ...): mean, std and the lowest-inertia run of each metric (official: one
     sklearn ``KMeans(n_clusters=K, random_state=0)`` fit with the library's default
     ``n_init``, repeated 5 times with the same seed, so the 5 results are equal).
   - ``g_eval_assign: argmax`` (3D-Cars, official): the classifier's argmax is the cluster (the
     same for logits and softmax); one assignment, std 0.

   Metrics: ``acc`` (Hungarian matching), ``acc_purity`` (each cluster counts its most common
   code: the official ``calculate_acc``), ``nmi``, ``ari``.

The headline ``acc`` / ``acc_purity`` / ``nmi`` / ``ari`` follow ``g_eval_assign``; the other
assignment is reported under the prefix ``kmeans_`` or ``argmax_``. Beside them: the
classifier's own accuracy on held-out real views (``classifier_heldout_acc``), and the E-based
numbers of ``E_c`` on the real images (prefix ``e_``). Without a usable classifier file (missing,
or another arch than ``classifier_arch``) the G-based part is skipped with a warning (training
goes on); the E-based numbers are still reported.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from ..data.datasets import load_images
from ..errors import UserError
from ..latent import sample_z
from ..metrics import CLUSTERING_METRICS
from . import e_based
from .classifier import ARCH_NAMES, classifier_file, load_classifier, predict_logits


def _argmax_scores(pred: np.ndarray, codes: np.ndarray) -> dict:
    out = {}
    for name, fn in CLUSTERING_METRICS.items():
        v = float(fn(codes, pred))
        out[name], out[f"{name}_std"], out[f"{name}_best_of_runs"] = v, 0.0, v
    return out


def _prefixed(prefix: str, res: dict) -> dict:
    return {prefix + k: v for k, v in res.items() if k in CLUSTERING_METRICS or
            any(k == m + s for m in CLUSTERING_METRICS for s in ("_std", "_best_of_runs"))}


@torch.no_grad()
def generate_per_code(G, n_per_class: int, zn_dim: int, zc_dim: int, device, seed: int = 0,
                      batch_size: int = 1000, prior: str = "normal", scale: float = 1.0):
    """``n_per_class`` images for each code 0..K-1 from fixed seeded noise of the run's prior
    (``prior``, ``scale``: settings ``z_prior``, ``z_scale``). G in eval mode.
    Returns images (K * n, C, H, W) on ``device`` and their codes (K * n,) int64, code-major."""
    g = torch.Generator().manual_seed(seed)
    z = sample_z(zc_dim * n_per_class, zn_dim, "cpu", g, prior, scale)
    c = torch.arange(zc_dim).repeat_interleave(n_per_class)
    was = G.training
    G.eval()
    try:
        x = torch.cat([G(z[i:i + batch_size].to(device), c[i:i + batch_size].to(device))
                       for i in range(0, len(z), batch_size)])
    finally:
        G.train(was)
    return x, c


def kmeans_features(logits: np.ndarray, features: str) -> np.ndarray:
    """What k-means clusters: the raw ``logits`` (N, K) (official) or their softmax."""
    if features == "logits":
        return logits
    if features == "softmax":  # torch's softmax, as this project computed it before
        return torch.softmax(torch.from_numpy(logits), 1).numpy()
    raise ValueError(f"g_eval_features is {features!r}; logits or softmax")


def score_outputs(feats: np.ndarray, codes: np.ndarray, k: int, assign: str, runs: int,
                  seed: int) -> dict:
    """Score classifier outputs ``feats`` (N, K; logits or softmax: the argmax is the same)
    against ``codes`` (N,) both ways: k-means on ``feats`` and argmax of ``feats`` (see module
    docstring); the headline keys follow ``assign``."""
    km = e_based.kmeans_scores(feats, codes, k, runs, seed=seed)
    am = _argmax_scores(feats.argmax(1), codes)
    if assign == "argmax":
        return {**am, **_prefixed("kmeans_", km)}
    return {**km, **_prefixed("argmax_", am)}


def evaluate_g_based(nets, cfg, data: dict, device) -> dict:
    """The G-based protocol plus the E-based numbers. ``data`` is a cache the caller keeps
    between evaluations: the classifier and the real images are read once into it."""
    t0 = time.perf_counter()
    device = torch.device(device)
    res: dict = {}
    if data.get("classifier") is None:  # a missing file is looked for again next time
        path = classifier_file(cfg, data.get("dataset_dir"))
        try:
            data["classifier"], data["classifier_info"] = load_classifier(path, cfg, device)
        except UserError as e:
            data["classifier"], data["classifier_info"] = None, {"missing": str(e)}
    clf, info = data["classifier"], data["classifier_info"]
    k = cfg.zc_dim
    if clf is not None:
        x, codes = generate_per_code(nets.G, cfg.g_eval_per_class, cfg.zn_dim, k, device,
                                     cfg.seed, cfg.eval_batch_size, cfg.z_prior, cfg.z_scale)
        logits = predict_logits(clf, x, cfg.eval_batch_size).cpu().numpy()
        feats = kmeans_features(logits, cfg.g_eval_features)
        res.update(score_outputs(feats, codes.numpy(), k, cfg.g_eval_assign, cfg.kmeans_runs,
                                 cfg.seed))
        res["classifier_heldout_acc"] = info.get("heldout_acc")
        arch = ARCH_NAMES.get(info.get("arch"), info.get("arch"))
        protocol = (f"g-based: {cfg.g_eval_per_class} generated images per code (K={k}) "
                    f"classified by the {arch} {info.get('path', '')} "
                    f"(held-out view accuracy {info.get('heldout_acc', float('nan')):.4f}); "
                    + (f"headline = kmeans on its {cfg.g_eval_features} ({cfg.kmeans_runs} "
                       f"seeded k-means runs)" if cfg.g_eval_assign == "kmeans" else
                       f"headline = argmax of its logits; k-means variant on its "
                       f"{cfg.g_eval_features}"))
    else:
        print(f"warning: G-based evaluation skipped: {info['missing']}", file=sys.stderr)
        res["g_based"] = "skipped: " + info["missing"]
        protocol = f"g-based SKIPPED ({info['missing']}); only the E-based numbers (e_*)"

    if cfg.g_eval_e_based:
        if "real_x" not in data:
            data["real_x"], data["real_y"] = load_images(cfg.dataset, cfg.data_root, "train",
                                                         cfg)
        e_res = e_based.evaluate_e_based(nets, cfg, data["real_x"], data["real_y"], device)
        res.update(_prefixed("e_", e_res))
        e_line = (f"E-based on the {len(data['real_x'])} real images: ACC {e_res['acc']:.4f} "
                  f"(purity {e_res['acc_purity']:.4f}) NMI {e_res['nmi']:.4f} ARI "
                  f"{e_res['ari']:.4f}")
    else:  # the official G-based folders report none: the encoding costs minutes on a CPU
        e_line = "E-based numbers not computed (g_eval_e_based: false)"
    if clf is not None:
        other = "argmax_" if cfg.g_eval_assign == "kmeans" else "kmeans_"
        e_line = (f"{other[:-1]} variant: ACC {res[other + 'acc']:.4f} (purity "
                  f"{res[other + 'acc_purity']:.4f}) NMI {res[other + 'nmi']:.4f} ARI "
                  f"{res[other + 'ari']:.4f}\n" + e_line)
    res["protocol"] = protocol + "\n" + e_line
    res["eval_seconds"] = time.perf_counter() - t0
    return res
