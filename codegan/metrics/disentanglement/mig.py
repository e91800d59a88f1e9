"""Mutual Information Gap (Chen et al. 2018), by InfoGAN-CR's procedure (its ``MIGMetric``).

Protocol (defaults = the published dSprites protocol): the labelled set, ``n`` combinations
(default a tenth of all: 73,728 on dSprites) drawn with replacement. Each code dimension is cut
into ``n_bins`` = 20 equal-width bins between its min and max; I(bin; factor class) is sklearn's
plug-in mutual information in nats. MIG = mean over active factors of
(largest - second largest MI of that factor) / H(factor), H the plug-in entropy of its classes.

Value range [0, 1]; chance about 0 (a little above: the plug-in MI is biased up by about
(bins-1)(classes-1) / (2n) nats). The maximum is 1 only for factors with at most ``n_bins`` + 1
values: 20 bins cannot keep 32 positions or 40 orientations apart, so a perfect representation of
dSprites scores about (1 + 1 + log 20/log 40 + 2 * 0.85) / 5 = 0.90 (0.85 = H of 32 values in
20 bins / log 32).

Same as google-research/disentanglement_lib's ``discrete_mig`` except that it draws 10,000
samples.
"""

from __future__ import annotations

import numpy as np

from . import _common as C


def gap(mi: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Per-factor normalised gap, (K,), from MI (d, K) and entropies (K,)."""
    top = np.sort(mi, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros_like(top[0])
    return (top[0] - second) / h


def score(represent, factors, *, seed: int = 0, n: int | None = None, n_bins: int = 20,
          batch: int = C.BATCH) -> dict:
    """``{"mig": float in [0,1], "mi": (d, K_active) nats, "entropy": (K_active,) nats}``."""
    codes, fac, _ = C.labelled_codes(represent, factors, seed, n, batch)
    mi = C.mutual_info(C.discretize(codes, n_bins), fac)
    h = C.entropy(fac)
    return {"mig": float(gap(mi, h).mean()), "mi": mi, "entropy": h}
