"""Modularity (Ridgeway & Mozer 2018), by InfoGAN-CR's procedure (``FStatMetric``'s first half).

Protocol (defaults = the published dSprites protocol): the labelled set and mutual information
of MIG (``n`` = a tenth of all combinations drawn with replacement, 20 equal-width bins per code
dimension, MI in nats with each active factor's classes). For each code dimension i, with
m_k = I(i; factor k) and K_active factors:
    modularity_i = 1 - (sum_k m_k^2 - max_k m_k^2) / (max_k m_k^2 * (K_active - 1)),
and the score is the mean over code dimensions.

Value range [0, 1]: 1 when every dimension carries information about one factor only (each
dimension is judged by itself: a dimension that reads nothing but noise of one factor still
scores 1). Codes independent of the factors have no clean chance value: their MI is plug-in bias,
much the same for every factor, so they score in the middle rather than near 0.

Where this differs: a dimension with zero MI everywhere gives NaN in InfoGAN-CR; here it scores 0
(disentanglement_lib's choice). google-research/disentanglement_lib is otherwise the same, on
10,000 samples.
"""

from __future__ import annotations

import numpy as np

from . import _common as C


def per_code(mi: np.ndarray) -> np.ndarray:
    """Modularity of each code dimension, (d,), from MI (d, K)."""
    sq = np.square(mi)
    mx = sq.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 - (sq.sum(axis=1) - mx) / (mx * (mi.shape[1] - 1))
    return np.where(mx > 0, out, 0.0)


def score(represent, factors, *, seed: int = 0, n: int | None = None, n_bins: int = 20,
          batch: int = C.BATCH) -> dict:
    """``{"modularity": float in [0,1], "per_code": (d,) array, "mi": (d, K_active) nats}``."""
    codes, fac, _ = C.labelled_codes(represent, factors, seed, n, batch)
    mi = C.mutual_info(C.discretize(codes, n_bins), fac)
    pc = per_code(mi)
    return {"modularity": float(pc.mean()), "per_code": pc, "mi": mi}
