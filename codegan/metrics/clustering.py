"""Clustering accuracy (Hungarian and purity), NMI and ARI, from the contingency table.

``acc_hungarian`` maps clusters to classes one-to-one (Hungarian algorithm), as IIC / SCAN report.
``acc_purity`` lets each cluster take its majority class, so several clusters may share a class:
that is what the official CoDeGAN code calls "ACC". The two differ whenever two clusters share a
class; report both, named apart.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def contingency(labels, clusters) -> np.ndarray:
    """Counts (n_clusters, n_classes): entry [k, y] = #samples in cluster k with label y."""
    labels = np.asarray(labels).ravel()
    clusters = np.asarray(clusters).ravel()
    if labels.shape != clusters.shape:
        raise ValueError(f"labels {labels.shape} and clusters {clusters.shape} differ in length")
    _, y = np.unique(labels, return_inverse=True)
    _, k = np.unique(clusters, return_inverse=True)
    table = np.zeros((k.max() + 1, y.max() + 1), dtype=np.int64)
    np.add.at(table, (k, y), 1)
    return table


def acc_hungarian(labels, clusters) -> float:
    """Best one-to-one cluster -> class accuracy, in [0, 1]."""
    t = contingency(labels, clusters)
    rows, cols = linear_sum_assignment(-t)
    return float(t[rows, cols].sum() / t.sum())


def acc_purity(labels, clusters) -> float:
    """Purity: each cluster takes its majority class, in [0, 1] (the official code's "ACC")."""
    t = contingency(labels, clusters)
    return float(t.max(axis=1).sum() / t.sum())


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(labels, clusters) -> float:
    """Normalised mutual information, arithmetic-mean normalisation (scikit-learn's default)."""
    t = contingency(labels, clusters).astype(np.float64)
    n = t.sum()
    pk, py = t.sum(1), t.sum(0)
    nz = t > 0
    mi = float((t[nz] / n * np.log(t[nz] * n / np.outer(pk, py)[nz])).sum())
    hk, hy = _entropy(pk), _entropy(py)
    if hk == 0 and hy == 0:
        return 1.0
    denom = (hk + hy) / 2
    # rounding can put a perfect clustering at 1 + 2e-16; NMI lives in [0, 1]
    return float(min(max(mi, 0.0) / denom, 1.0)) if denom > 0 else 0.0


def ari(labels, clusters) -> float:
    """Adjusted Rand index (Hubert & Arabie), in [-1, 1]."""
    t = contingency(labels, clusters).astype(np.float64)
    n = t.sum()

    def comb2(x):
        return x * (x - 1) / 2

    s_ij = comb2(t).sum()
    s_k, s_y = comb2(t.sum(1)).sum(), comb2(t.sum(0)).sum()
    expected = s_k * s_y / comb2(n)
    top = (s_k + s_y) / 2
    if top == expected:  # both partitions trivial (one cluster, or all singletons)
        return 1.0
    return float((s_ij - expected) / (top - expected))
