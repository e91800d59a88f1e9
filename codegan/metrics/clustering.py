"""Clustering accuracy (Hungarian and purity) from the contingency table; NMI and ARI are
scikit-learn's (``normalized_mutual_info_score``, arithmetic averaging; ``adjusted_rand_score``).

``acc_hungarian`` maps clusters to classes one-to-one (Hungarian algorithm), as IIC / SCAN report.
``acc_purity`` lets each cluster take its majority class, so several clusters may share a class:
that is what the official CoDeGAN code calls "ACC". The two differ whenever two clusters share a
class; report both, named apart.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def _checked(labels, clusters):
    """Both as flat arrays of equal length (a ValueError otherwise)."""
    labels = np.asarray(labels).ravel()
    clusters = np.asarray(clusters).ravel()
    if labels.shape != clusters.shape:
        raise ValueError(f"labels {labels.shape} and clusters {clusters.shape} differ in length")
    return labels, clusters


def contingency(labels, clusters) -> np.ndarray:
    """Counts (n_clusters, n_classes): entry [k, y] = #samples in cluster k with label y."""
    labels, clusters = _checked(labels, clusters)
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


def nmi(labels, clusters) -> float:
    """Normalised mutual information: scikit-learn's ``normalized_mutual_info_score`` with its
    default arithmetic-mean normalisation, in [0, 1] (rounding can put a perfect clustering at
    1 + 2e-16; it is clipped to 1)."""
    labels, clusters = _checked(labels, clusters)
    return min(float(normalized_mutual_info_score(labels, clusters)), 1.0)


def ari(labels, clusters) -> float:
    """Adjusted Rand index (Hubert & Arabie), in [-1, 1]: scikit-learn's
    ``adjusted_rand_score``."""
    labels, clusters = _checked(labels, clusters)
    return float(adjusted_rand_score(labels, clusters))
