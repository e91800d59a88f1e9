"""dHSIC, the d-variable Hilbert-Schmidt independence criterion (Pfister et al. 2016, "Kernel-based
tests for joint independence"), of the code dimensions of real images, by InfoGAN-CR's procedure
(its ``DHSICMetric`` in ``gan/metric.py``). It asks how far the code's d dimensions are from
jointly independent: 0 when they are, larger the more they depend on one another. Unlike the
other metrics it needs no factor labels: the factors only supply the images.

Protocol (defaults = InfoGAN-CR's): ``n`` = 5,000 distinct real images, drawn without replacement
from the whole grid (InfoGAN-CR draws them once from the file; here from the seed's own stream,
``_common.distinct_set``), through ``represent``: codes x (n, d), in float64. Each dimension k
gets its own kernel matrix over the n codes,

    K_k[i, j] = exp(-|x_ik - x_jk| / h_k^2),   h_k = median over all n^2 ordered pairs (i, j),
                                                     the n pairs i = j (|0|) included, of |x_ik - x_jk|,

and dHSIC is the V-statistic (biased) estimator of Pfister et al., the same three terms as theirs:

    dHSIC = 1/n^2 sum_ij prod_k K_k[i, j]                      (term 1)
          + prod_k (1/n^2 sum_ij K_k[i, j])                    (term 2)
          - 2/n sum_i prod_k (1/n sum_j K_k[i, j])             (term 3)

(InfoGAN-CR writes term 3 as 2/n^(d+1) sum_i prod_k sum_j K_k[i, j], the same number; that
form overflows float64 once n^(d+1) > 1e308, e.g. n = 5,000 and d = 92, so it is normalised
here before the product.)

Where the kernel differs from Pfister et al.'s standard one (``kernel="gaussian"`` below): their
R package ``dHSIC`` uses a Gaussian kernel exp(-D^2 / (2 s^2)) per variable with the median
heuristic for s (the median pairwise distance over pairs i < j, up to a constant). InfoGAN-CR's
kernel instead
  * is a Laplace kernel, exp(-|D| / c), not a Gaussian;
  * divides by h^2, the *square* of a median distance, not by a distance: so it is not invariant
    to the scale of a dimension. Multiplying dimension k by a turns its kernel into
    exp(-|D| / (a h_k^2)): a code with a larger range gets a flatter kernel and a smaller dHSIC
    for the same dependence, so numbers compare only between codes of similar ranges (InfoGAN-CR
    compares GANs whose Q outputs means of U(-1, 1) codes);
  * takes the median over all n^2 ordered pairs, the n zero distances i = j included (so slightly
    below the median over pairs i < j). When more than half of the n^2 distances of a dimension
    are 0 (a collapsed code dimension), h = 0 and InfoGAN-CR's value is NaN (0 / 0 on the
    diagonal); so is this one, and ``zero_bandwidth`` names those dimensions.
``kernel="gaussian"`` computes the standard estimator: K_k[i, j] = exp(-D^2 / m_k^2), m_k the
median of |D| over the pairs i < j (the R package's s^2 = median(D^2) / 2, except that the package
takes the median of at most 1,000 points and a zero median becomes 0.001; read from ports of it,
not from its source). It is invariant to the scale of each dimension.

Value range: [0, 2] (the squared distance, in the product kernel's feature space, between the
embedding of the joint distribution and that of the product of the marginals, both of norm at
most 1 with a non-negative inner product); 0 for jointly independent dimensions in the limit of
large n, with a positive bias of order 1/n at finite n. Each term is a mean of products of d
kernel values in [0, 1], so the scale shrinks as d grows: compare codes with the same number of
dimensions (InfoGAN-CR: Q's 5 code means).

Cost: O(n^2 d) time, computed in blocks of rows (``block``, memory O(block * n) per term); the
median needs one dimension's n x n distances at a time (200 MB at n = 5,000).
"""

from __future__ import annotations

import numpy as np

from ...errors import UserError
from . import _common as C

N = 5000  # InfoGAN-CR's DHSICMetric n
KERNELS = ("infogan_cr", "gaussian")


def _median_distance(x: np.ndarray, with_diagonal: bool) -> float:
    """Median of |x_i - x_j| (x (n,) float64) over all n^2 ordered pairs (``with_diagonal``), or
    over the n (n - 1) ordered pairs i != j, whose median is that of the pairs i < j."""
    n = len(x)
    dist = np.subtract.outer(x, x).ravel()  # (n^2,), one dimension at a time
    np.abs(dist, out=dist)  # in place: one n x n array at a time (200 MB at n = 5,000)
    if with_diagonal:
        return float(np.median(dist, overwrite_input=True))
    # the n diagonal zeros are among the smallest values: the median of the rest sits at these
    # positions of the sorted whole (np.median's convention for an even count: the midpoint)
    m = n * n - n
    lo, hi = n + (m - 1) // 2, n + m // 2
    dist.partition((lo, hi))
    return float((dist[lo] + dist[hi]) / 2)


def bandwidths(codes: np.ndarray, kernel: str = "infogan_cr") -> np.ndarray:
    """Per-dimension kernel bandwidths (d,) of codes (n, d): InfoGAN-CR's h_k (median |D|, the
    diagonal included) or the Gaussian kernel's m_k (median |D| over pairs i < j)."""
    return np.array([_median_distance(codes[:, k], kernel == "infogan_cr")
                     for k in range(codes.shape[1])])


def _check(codes, kernel: str) -> np.ndarray:
    if kernel not in KERNELS:
        raise UserError(f"dHSIC kernel {kernel!r}: choose one of {', '.join(KERNELS)}.")
    x = np.asarray(codes, dtype=np.float64)
    if x.ndim != 2:
        raise UserError(f"dHSIC needs codes of shape (n, d), got shape {x.shape}.")
    n, d = x.shape
    if d < 2:
        raise UserError(f"dHSIC measures the joint independence of the code's dimensions, so it "
                        f"needs at least 2 of them; this representation has {d}. Score a code "
                        f"with more dimensions (test.py --represent=zc) or leave dhsic out of "
                        f"the metrics.")
    if n < 2:
        raise UserError(f"dHSIC needs at least 2 images to compare, got n={n}; give a larger n "
                        f"(the protocol uses {N}).")
    if not np.all(np.isfinite(x)):
        raise UserError("dHSIC: the codes hold NaN or infinite values (a diverged encoder?); "
                        "nothing to score.")
    return x


def dhsic(codes, kernel: str = "infogan_cr", block: int | None = None) -> dict:
    """dHSIC of codes (n, d), n >= 2, d >= 2 (any real values; float64 inside).

    Returns ``{"dhsic": float (>= 0, up to rounding; NaN with a zero bandwidth), "terms": [term 1,
    term 2, term 3] (dhsic is their sum), "bandwidth": (d,) h_k or m_k, "zero_bandwidth": [k
    with a zero bandwidth]}``. ``block`` rows of the n x n kernel matrices are computed at a time
    (default: about 4 million entries, 32 MB a matrix); only memory depends on it."""
    x = _check(codes, kernel)
    n, d = x.shape
    h = bandwidths(x, kernel)
    zero = [int(k) for k in np.flatnonzero(h == 0)]
    if zero:  # InfoGAN-CR divides by h^2 = 0: its value is NaN; say which dimensions did it
        return {"dhsic": float("nan"), "terms": [float("nan")] * 3, "bandwidth": h,
                "zero_bandwidth": zero}
    block = max(1, (4_000_000 // n) if block is None else int(block))
    scale = 1.0 / h ** 2 if kernel == "infogan_cr" else 1.0 / h
    sum_prod = 0.0  # sum_ij prod_k K_k[i, j]
    row_means = np.empty((n, d))  # 1/n sum_j K_k[i, j]
    for s in range(0, n, block):
        e = min(s + block, n)
        prod = None
        for k in range(d):
            # K_k[s:e, :] (block, n), built in place: |D| (* 1/h^2 or / m), (squared,) exp(-.)
            kern = np.subtract.outer(x[s:e, k], x[:, k])
            np.abs(kern, out=kern)
            kern *= scale[k]
            if kernel == "gaussian":
                np.square(kern, out=kern)
            np.negative(kern, out=kern)
            np.exp(kern, out=kern)
            row_means[s:e, k] = kern.mean(axis=1)
            if prod is None:
                prod = kern
            else:
                prod *= kern
        sum_prod += float(prod.sum())
    term1 = sum_prod / n ** 2
    term2 = float(np.prod(row_means.mean(axis=0)))  # prod_k 1/n^2 sum_ij K_k[i, j]
    term3 = -2.0 * float(np.prod(row_means, axis=1).mean())
    return {"dhsic": term1 + term2 + term3, "terms": [term1, term2, term3], "bandwidth": h,
            "zero_bandwidth": zero}


def score(represent, factors, *, seed: int = 0, n: int = N, kernel: str = "infogan_cr",
          block: int | None = None, batch: int = C.BATCH) -> dict:
    """``{"dhsic": float >= 0 (NaN when a dimension collapsed), "dhsic_terms": [3 floats],
    "bandwidth": (d,), "zero_bandwidth": [dims], "n": images scored, "kernel": name}`` of
    ``represent``'s codes of ``n`` distinct real images (all of the grid when it has fewer)."""
    if int(n) < 2:
        raise UserError(f"dHSIC needs at least 2 images, got n={n} (the protocol uses {N}).")
    idx = C.distinct_set(factors, seed, int(n), C._DHSIC)
    res = dhsic(C.represent_indices(represent, factors, idx, batch), kernel, block)
    return {"dhsic": res["dhsic"], "dhsic_terms": res["terms"], "bandwidth": res["bandwidth"],
            "zero_bandwidth": res["zero_bandwidth"], "n": len(idx), "kernel": kernel}
