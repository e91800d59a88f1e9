"""Explicitness (Ridgeway & Mozer 2018), by InfoGAN-CR's procedure (``FStatMetric``'s second half).

Protocol (defaults = the published dSprites protocol): the labelled set (``n`` = a tenth of all
combinations, drawn with replacement). For each active factor, a logistic regression on all code
dimensions (raw, not standardised) predicts the factor's class; sklearn 0.20's default, which
InfoGAN-CR ran under Python 2.7: liblinear, one-vs-rest, C=1. Its ROC-AUC on the same samples it
was fitted to, one-hot labels, macro average over classes; the score is the mean over factors.

Value range [0.5, 1] in practice: 1 when every class of every factor can be ranked first by a
linear read-out; chance 0.5. A class in the middle of a factor's range cannot be singled out by a
one-vs-rest linear score of one dimension, so even a perfect representation scores below 1 on
factors with more than two values.

Where this differs: google-research/disentanglement_lib standardises the codes, fits on 10,000
samples and reports AUC on 5,000 fresh ones as well (``explicitness_score_test``).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from . import _common as C


def per_factor(codes: np.ndarray, fac: np.ndarray) -> np.ndarray:
    """Training ROC-AUC (macro, one-vs-rest) per factor column, (K,)."""
    out = np.zeros(fac.shape[1])
    for k in range(fac.shape[1]):
        y = fac[:, k]
        clf = C.logistic_020().fit(codes, y)
        proba = clf.predict_proba(codes)
        onehot = (y[:, None] == clf.classes_[None, :]).astype(int)
        # why: roc_auc_score needs the 1-D form for two classes
        out[k] = (roc_auc_score(y == clf.classes_[1], proba[:, 1]) if len(clf.classes_) == 2
                  else roc_auc_score(onehot, proba, average="macro"))
    return out


def score(represent, factors, *, seed: int = 0, n: int | None = None,
          batch: int = C.BATCH) -> dict:
    """``{"explicitness": float in [0.5,1] in practice, "per_factor": (K_active,) array}``."""
    codes, fac, _ = C.labelled_codes(represent, factors, seed, n, batch)
    pf = per_factor(codes, fac)
    return {"explicitness": float(pf.mean()), "per_factor": pf}
