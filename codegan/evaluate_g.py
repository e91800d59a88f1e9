"""The G-based protocol (COIL-20, 3D-Chairs, 3D-Cars; CODEGAN.md section 6).

G generates ``g_eval_per_class`` images for every code ``c`` (fixed noise, seeded by ``seed``);
the real-data ResNet-18 classifier (``codegan.classifier``) gives each its softmax output (K
values). The code is then scored against a clustering of those outputs:

- ``g_eval_assign: kmeans``: k-means with K clusters on the softmax vectors, ``kmeans_runs``
  seeded runs (COIL-20, 3D-Chairs);
- ``g_eval_assign: argmax``: the classifier's argmax is the cluster (3D-Cars, official).

The headline ``acc`` / ``acc_purity`` / ``nmi`` / ``ari`` follow ``g_eval_assign``; the other
assignment is reported under the prefix ``kmeans_`` or ``argmax_``. Beside them: the
classifier's own accuracy on held-out real views (``classifier_heldout_acc``), and the E-based
numbers of ``E_c`` on the real images (prefix ``e_``). Without a classifier file the G-based part
is skipped with a warning (training goes on); the E-based numbers are still reported.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from .metrics import CLUSTERING_METRICS


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
                      batch_size: int = 1000):
    """``n_per_class`` images for each code 0..K-1 from fixed seeded noise. G in eval mode.
    Returns images (K * n, C, H, W) on ``device`` and their codes (K * n,) int64, code-major."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(zc_dim * n_per_class, zn_dim, generator=g)
    c = torch.arange(zc_dim).repeat_interleave(n_per_class)
    was = G.training
    G.eval()
    try:
        x = torch.cat([G(z[i:i + batch_size].to(device), c[i:i + batch_size].to(device))
                       for i in range(0, len(z), batch_size)])
    finally:
        G.train(was)
    return x, c


def score_outputs(probs: np.ndarray, codes: np.ndarray, k: int, assign: str, runs: int,
                  seed: int) -> dict:
    """Score classifier outputs ``probs`` (N, K) against ``codes`` (N,) both ways (see module
    docstring); the headline keys follow ``assign``."""
    from .evaluate import kmeans_scores

    km = kmeans_scores(probs, codes, k, runs, seed=seed)
    am = _argmax_scores(probs.argmax(1), codes)
    if assign == "argmax":
        return {**am, **_prefixed("kmeans_", km)}
    return {**km, **_prefixed("argmax_", am)}


def evaluate_g_based(nets, cfg, data: dict, device) -> dict:
    """The G-based protocol plus the E-based numbers. ``data`` is a cache the caller keeps
    between evaluations: the classifier and the real images are read once into it."""
    from .classifier import classifier_file, load_classifier, predict
    from .data import load_images
    from .errors import UserError
    from .evaluate import evaluate_e_based

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
                                     cfg.seed, cfg.eval_batch_size)
        probs = predict(clf, x, cfg.eval_batch_size).cpu().numpy()
        res.update(score_outputs(probs, codes.numpy(), k, cfg.g_eval_assign, cfg.kmeans_runs,
                                 cfg.seed))
        res["classifier_heldout_acc"] = info.get("heldout_acc")
        protocol = (f"g-based: {cfg.g_eval_per_class} generated images per code (K={k}) "
                    f"classified by the ResNet-18 {info.get('path', '')} "
                    f"(held-out view accuracy {info.get('heldout_acc', float('nan')):.4f}); "
                    f"headline = {cfg.g_eval_assign} on its softmax outputs"
                    + (f" ({cfg.kmeans_runs} seeded k-means runs)"
                       if cfg.g_eval_assign == "kmeans" else ""))
    else:
        print(f"warning: G-based evaluation skipped: {info['missing']}", file=sys.stderr)
        res["g_based"] = "skipped: " + info["missing"]
        protocol = f"g-based SKIPPED ({info['missing']}); only the E-based numbers (e_*)"

    if "real_x" not in data:
        data["real_x"], data["real_y"] = load_images(cfg.dataset, cfg.data_root, "train", cfg)
    e_res = evaluate_e_based(nets, cfg, data["real_x"], data["real_y"], device)
    res.update(_prefixed("e_", e_res))
    e_line = (f"E-based on the {len(data['real_x'])} real images: ACC {e_res['acc']:.4f} "
              f"(purity {e_res['acc_purity']:.4f}) NMI {e_res['nmi']:.4f} ARI {e_res['ari']:.4f}")
    if clf is not None:
        other = "argmax_" if cfg.g_eval_assign == "kmeans" else "kmeans_"
        e_line = (f"{other[:-1]} variant: ACC {res[other + 'acc']:.4f} (purity "
                  f"{res[other + 'acc_purity']:.4f}) NMI {res[other + 'nmi']:.4f} ARI "
                  f"{res[other + 'ari']:.4f}\n" + e_line)
    res["protocol"] = protocol + "\n" + e_line
    res["eval_seconds"] = time.perf_counter() - t0
    return res
