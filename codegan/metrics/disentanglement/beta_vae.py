"""BetaVAE metric (Higgins et al. 2017), by InfoGAN-CR's procedure (its ``BetaVAEMetric``).

Protocol (defaults = the published dSprites protocol): the same ``n_groups`` = 500 groups of
``group_size`` = 100 images as FactorVAE (same seed, same images; group j fixes active factor
``j mod K_active``). Each group gives one sample: the mean over its group_size/2 consecutive
pairs (images 0-1, 2-3, ...) of |code_a - code_b|, a d-vector, labelled with the fixed factor.
A logistic regression (sklearn 0.20's default, which InfoGAN-CR ran under Python 2.7: liblinear,
one-vs-rest, C=1) is fitted to the 500 samples; the score is its accuracy on those same samples.

Value range [0, 1]: 1 when the fixed factor can be read off linearly from which dimensions stop
changing; chance about 1 / K_active (a little above: training accuracy).

Where this differs: google-research/disentanglement_lib draws the fixed factor at random per
sample, pairs two independent batches of 64 (the second copies the fixed factor), trains on
10,000 samples with sklearn's then-default logistic regression and reports accuracy on 5,000
fresh samples (``eval_accuracy``).
"""

from __future__ import annotations

import numpy as np

from . import _common as C


def score(represent, factors, *, seed: int = 0, n_groups: int = C.N_GROUPS,
          group_size: int = C.GROUP_SIZE, batch: int = C.BATCH) -> dict:
    """``{"beta_vae": float in [0,1]}``, training accuracy. See the module docstring."""
    idx, label = C.groups(factors, seed, n_groups, group_size)
    codes = C.represent_indices(represent, factors, idx.reshape(-1, idx.shape[-1]), batch)
    codes = codes.reshape(n_groups, group_size, -1)
    feats = np.abs(codes[:, 0::2] - codes[:, 1::2]).mean(axis=1)
    clf = C.logistic_020().fit(feats, label)
    return {"beta_vae": float(clf.score(feats, label))}
