"""Frechet Inception Distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule")
and the intra-class FID, as pure NumPy/SciPy maths on feature vectors.

The FID between two sets of features is the Frechet (2-Wasserstein) distance between the
Gaussians fitted to them:

    FID = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))

Every function here takes float arrays, never images: the features come from
``codegan.evaluation.inception_tf`` (pool_3 of the 2015-12-05 Inception graph, 2048-d) or from
anything else. Statistics follow TTUR's ``.npz`` convention: ``mu`` (D,) float64 and ``sigma``
(D, D) float64, the unbiased sample covariance (``np.cov(..., rowvar=False)``).
"""

from __future__ import annotations

import numpy as np

from codegan.errors import UserError

__all__ = ["feature_stats", "covariance_factor", "frechet_distance", "fid_from_features",
           "trace_sqrt_product", "intra_class_fid"]


def _as_features(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise UserError(f"{name} must be a 2-D array (N, D) of feature vectors; got shape "
                        f"{x.shape}.")
    if x.shape[0] < 2:
        raise UserError(f"{name} holds {x.shape[0]} feature vector(s); a covariance needs at "
                        f"least 2 (FID protocols use thousands).")
    if not np.issubdtype(x.dtype, np.floating):
        raise UserError(f"{name} must be floating point, got {x.dtype}.")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{name} contains NaN or infinite values; the feature extractor's "
                        f"input was probably broken (check the images' value range).")
    return x.astype(np.float64, copy=False)


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of ``features`` (N, D): returns ``mu`` (D,) and ``sigma`` (D, D),
    both float64, ``sigma`` the unbiased sample covariance (as TTUR computes it)."""
    f = _as_features(features, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def covariance_factor(features) -> np.ndarray:
    """``A`` (N, D) float64 with ``A.T @ A`` equal to ``feature_stats(features)[1]``: the
    centred features over ``sqrt(N - 1)``. Fewer rows than columns (N < D) make it a cheaper
    stand-in for the covariance in ``trace_sqrt_product``."""
    f = _as_features(features, "features")
    return (f - f.mean(axis=0)) / np.sqrt(f.shape[0] - 1)


def _check_stats(mu, sigma, name: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise UserError(f"statistics {name}: mu must be (D,) and sigma (D, D); got mu "
                        f"{mu.shape} and sigma {sigma.shape}.")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise UserError(f"statistics {name} contain NaN or infinite values.")
    return mu, sigma


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (eigenvalues < 0
    from round-off are clipped to 0)."""
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(sigma1, sigma2, sqrt_sigma1: np.ndarray | None = None,
                       factor1: np.ndarray | None = None) -> float:
    """``Tr((S_1 S_2)^(1/2))`` for symmetric PSD ``S_1``, ``S_2`` (D, D).

    ``S_1 S_2`` is similar to the symmetric PSD ``S_1^(1/2) S_2 S_1^(1/2)``, so the trace of
    its square root is the sum of the square roots of that matrix's eigenvalues. This is the
    quantity TTUR gets from ``scipy.linalg.sqrtm(S_1 @ S_2)``, computed with two symmetric
    eigendecompositions instead of a Schur-based square root of a non-symmetric matrix:
    several times faster at D = 2048, and never complex. ``sqrt_sigma1`` may carry a
    precomputed ``S_1^(1/2)``.

    ``factor1`` (N, D), with ``S_1 = factor1.T @ factor1`` (``covariance_factor``), skips both
    D x D eigendecompositions: the non-zero eigenvalues of ``S_1 S_2`` are those of the
    symmetric PSD ``factor1 @ S_2 @ factor1.T`` (N, N), since ``XY`` and ``YX`` share them. With
    N < D (a class code's 1,000 fakes against 2048-d features) that is one N x N
    eigendecomposition instead of two at D x D.
    """
    if factor1 is not None:
        a = np.asarray(factor1, np.float64)
        m = a @ np.asarray(sigma2, np.float64) @ a.T
    else:
        s1h = _psd_sqrt(np.asarray(sigma1, np.float64)) if sqrt_sigma1 is None else sqrt_sigma1
        m = s1h @ np.asarray(sigma2, np.float64) @ s1h
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2, *, sqrt_sigma1: np.ndarray | None = None,
                     factor1: np.ndarray | None = None) -> float:
    """FID between N(mu1, sigma1) and N(mu2, sigma2): ``mu`` (D,), ``sigma`` (D, D).
    ``sqrt_sigma1`` or ``factor1``: see ``trace_sqrt_product``.

    Returns a float >= 0 (tiny negative round-off is clipped to 0). Symmetric in its two
    Gaussians up to round-off.
    """
    mu1, sigma1 = _check_stats(mu1, sigma1, "1")
    mu2, sigma2 = _check_stats(mu2, sigma2, "2")
    if mu1.shape != mu2.shape:
        raise UserError(f"the two statistics have different feature widths ({mu1.shape[0]} vs "
                        f"{mu2.shape[0]}): they come from different networks or layers. "
                        f"Recompute the reference statistics with the same Inception graph.")
    diff = mu1 - mu2
    tr = trace_sqrt_product(sigma1, sigma2, sqrt_sigma1, factor1)
    d = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr)
    return max(d, 0.0)


def fid_from_features(features1, features2) -> float:
    """FID between two sets of feature vectors, (N1, D) and (N2, D)."""
    return frechet_distance(*feature_stats(features1), *feature_stats(features2))


def intra_class_fid(fake_stats: dict, real_stats: dict, fake_factors: dict | None = None
                    ) -> dict:
    """Intra-class FID of an unsupervised conditional generator.

    ``fake_stats`` maps each class code ``c`` of the generator to ``(mu, sigma)`` of its
    images' features; ``real_stats`` maps each real class ``k`` to ``(mu, sigma)``. A code has
    no label of its own, so each code is matched to the real class it is closest to:
    ``ICFID = mean_c min_k FID(fake_c, real_k)`` (several codes may match one class).
    ``fake_factors`` (optional) maps a code to its ``covariance_factor`` (N_c, D); a code given
    one takes the N_c x N_c route of ``trace_sqrt_product`` (the same number up to round-off).
    The caller decides which: that route is the cheaper one when the code has fewer images than
    feature dimensions (N_c < D), since it needs no D x D eigendecomposition.

    Returns ``{"icfid": float, "per_code": {c: float}, "match": {c: k},
    "matrix": list of rows [FID(fake_c, real_k) for k]}`` with codes and classes in sorted
    order.
    """
    if not fake_stats or not real_stats:
        raise UserError("intra-class FID needs statistics for at least one code and one class.")
    codes, classes = sorted(fake_stats), sorted(real_stats)
    matrix = np.empty((len(codes), len(classes)))
    for i, c in enumerate(codes):
        mu_f, sig_f = _check_stats(*fake_stats[c], f"of code {c}")
        a = None if fake_factors is None else fake_factors.get(c)
        if a is not None:
            how = {"factor1": a}
        else:  # one D x D eigendecomposition per code, reused for every class
            how = {"sqrt_sigma1": _psd_sqrt(sig_f)}
        for j, k in enumerate(classes):
            matrix[i, j] = frechet_distance(mu_f, sig_f, *real_stats[k], **how)
    best = matrix.argmin(axis=1)
    per_code = {c: float(matrix[i, best[i]]) for i, c in enumerate(codes)}
    return {"icfid": float(np.mean(list(per_code.values()))),
            "per_code": per_code,
            "match": {c: classes[best[i]] for i, c in enumerate(codes)},
            "matrix": matrix.tolist()}
