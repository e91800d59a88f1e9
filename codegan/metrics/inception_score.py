"""Inception Score (Salimans et al. 2016, "Improved techniques for training GANs") as pure
NumPy/SciPy maths on class probabilities.

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

computed, as the original protocol does, on ``splits`` consecutive equal parts of the samples
(10 parts of 5,000 for 50,000 fakes), each part with its own marginal ``p(y)``; the result is
the mean and the (population) standard deviation of the per-part scores.

It is 1 when every image gets the same prediction and K when confident predictions are spread
evenly over K classes; the 1008-way Inception graph therefore bounds it by 1008.
"""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr, softmax

from codegan.errors import UserError

__all__ = ["inception_score", "inception_score_from_logits"]


def inception_score(probs, *, splits: int = 10) -> tuple[float, float]:
    """IS of class probabilities ``probs`` (N, K), rows non-negative and summing to 1.

    The N rows are cut into ``splits`` consecutive parts of (almost) equal size, in order: keep
    the samples in the order they were generated, as the protocol does. Returns
    ``(mean, std)`` over the parts.
    """
    p = np.asarray(probs)
    if p.ndim != 2:
        raise UserError(f"probs must be a 2-D array (N, K) of class probabilities; got shape "
                        f"{p.shape}.")
    if not np.issubdtype(p.dtype, np.floating):
        raise UserError(f"probs must be floating point, got {p.dtype}.")
    if int(splits) != splits or splits < 1:
        raise UserError(f"splits must be a positive integer, got {splits!r}.")
    n = p.shape[0]
    if n < splits:
        raise UserError(f"{n} samples cannot be cut into {splits} splits; give at least "
                        f"{splits} images (the protocol uses 50,000 in 10 splits).")
    p = p.astype(np.float64, copy=False)
    if not np.all(np.isfinite(p)) or p.min() < 0:
        raise UserError("probs must be finite and non-negative.")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise UserError("each row of probs must sum to 1 (give softmax outputs, or use "
                        "inception_score_from_logits for logits).")
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        # rel_entr(p, q) = p log(p / q), and 0 where p = 0: a class an image surely is not
        # adds nothing (the original code's p * log(p) gave NaN there).
        kl = rel_entr(part, marginal).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def inception_score_from_logits(logits, *, splits: int = 10) -> tuple[float, float]:
    """IS of ``logits`` (N, K): softmax over the last axis, then ``inception_score``."""
    z = np.asarray(logits)
    if z.ndim != 2 or not np.issubdtype(z.dtype, np.floating):
        raise UserError(f"logits must be a floating 2-D array (N, K); got {z.dtype} "
                        f"{z.shape}.")
    return inception_score(softmax(z.astype(np.float64), axis=1), splits=splits)
