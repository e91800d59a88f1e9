"""SAP score (Kumar et al. 2018), by InfoGAN-CR's procedure (its ``SAPMetric``).

Protocol (defaults = the published dSprites protocol): the labelled set, ``n`` combinations
(default a tenth of all: 73,728 on dSprites) drawn with replacement. Score matrix (d, K_active):
  * continuous factor: squared Pearson correlation of the code dimension with the factor;
  * categorical factor (``factors.categorical``; dSprites: the shape): accuracy, on the same
    samples it was fitted to, of ``LinearSVC(C=0.01, class_weight="balanced")`` reading the
    factor's class from that one code dimension.
SAP = mean over active factors of (largest - second largest score in its column).

Value range [0, 1]. For continuous factors 1 when each factor is a linear function of its own
dimension and uncorrelated with the others; chance about 0. A categorical factor's gap cannot
reach 1, because an uninformative dimension still scores about chance accuracy (1 / classes for
a balanced classifier): on dSprites a perfect representation scores about (4 + 2/3) / 5.

Where this differs: a code dimension with zero variance gives NaN in InfoGAN-CR; here its
correlation counts as 0 (disentanglement_lib's choice). google-research/disentanglement_lib treats
every factor alike (in its published config, all as categorical), fits on 10,000 samples and
scores the classifiers on 5,000 fresh ones.
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import LinearSVC

from . import _common as C


def score_matrix(codes: np.ndarray, fac: np.ndarray, categorical) -> np.ndarray:
    """(d, K) scores of codes (n, d) against factor indices (n, K); ``categorical`` a bool per
    factor column."""
    d, k = codes.shape[1], fac.shape[1]
    out = np.zeros((d, k))
    for j in range(k):
        y = fac[:, j]
        for i in range(d):
            x = codes[:, i]
            if categorical[j]:
                clf = LinearSVC(C=0.01, class_weight="balanced")
                clf.fit(x[:, None], y)
                out[i, j] = np.mean(clf.predict(x[:, None]) == y)
            else:
                cov = np.cov(x, y, ddof=1)
                if cov[0, 0] > 1e-12 and cov[1, 1] > 0:
                    out[i, j] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])
    return out


def score(represent, factors, *, seed: int = 0, n: int | None = None,
          batch: int = C.BATCH) -> dict:
    """``{"sap": float in [0,1], "scores": (d, K_active) array}``. See the module docstring."""
    codes, fac, act = C.labelled_codes(represent, factors, seed, n, batch)
    cat = set(int(c) for c in getattr(factors, "categorical", ()))
    m = score_matrix(codes, fac, [int(a) in cat for a in act])
    top = np.sort(m, axis=0)
    gap = top[-1] - top[-2] if len(m) > 1 else top[-1]  # one dimension: no runner-up
    return {"sap": float(gap.mean()), "scores": m}
