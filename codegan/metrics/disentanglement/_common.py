"""What every disentanglement metric shares: the ground-truth sampler it reads, the evaluation
sets of InfoGAN-CR's ``load_data.py`` (built from fixed seeds, so two metrics given the same
seed see the same images, as InfoGAN-CR's metrics share one ``metric_data``), the histogram
discretiser and the mutual-information matrix.

The ground-truth sampler (``factors``) is any object with
  * ``sizes``: tuple of K ints, the number of values of each factor (dSprites: (1,3,6,40,32,32));
  * ``sample_factors(n, rng) -> (n, K) int64``: factor class indices, each factor drawn uniformly
    and independently (``rng`` a ``numpy.random.Generator``);
  * ``images(factor_idx) -> images``: the observations of those factor combinations, in whatever
    form ``represent`` takes (uint8 or float images, or, in tests, plain vectors);
  * optionally ``categorical``: indices of the factors SAP treats as classes (dSprites: (1,), the
    shape); every other factor is treated as continuous.
Factors with a single value (dSprites' colour) carry no information and are left out of every
score, as InfoGAN-CR drops colour; the "active" factors below are the others, in order.

``represent(images) -> (n, d)`` array is the representation (for a GAN, Q's code means).

Factor class indices stand in for InfoGAN-CR's factor *values* everywhere: where it uses values
(SAP's squared correlation, DCI's z-scored regression targets) the scores are invariant under an
affine map of each factor, and dSprites' values are affine in their indices (linspace grids;
shape value = index + 1), so the numbers are the same.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score

# InfoGAN-CR's dSprites protocol: M groups of L images, a std set and a labelled set each of
# 10% of the 737,280 combinations.
N_GROUPS = 500
GROUP_SIZE = 100
DSPRITES_TENTH = 73_728
BATCH = 500  # images per call of ``represent``; only memory depends on it

# Separate streams per evaluation set: the sets do not change when another set's size does.
_GROUPS, _STD, _LABELLED, _DHSIC = 0, 1, 2, 3


def rng_for(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), stream])


def active_factors(factors) -> np.ndarray:
    """Indices of the factors with more than one value, shape (K_active,)."""
    act = np.flatnonzero(np.asarray(factors.sizes) > 1)
    if len(act) < 2:
        raise ValueError(f"need at least two factors with more than one value, got sizes "
                         f"{tuple(factors.sizes)}")
    return act


def represent_indices(represent, factors, idx: np.ndarray, batch: int = BATCH) -> np.ndarray:
    """Codes (n, d) float64 of the factor combinations ``idx`` (n, K), ``batch`` images a call."""
    out = [np.asarray(represent(factors.images(idx[i:i + batch])), dtype=np.float64)
           for i in range(0, len(idx), batch)]
    codes = np.concatenate(out)
    if codes.ndim != 2 or len(codes) != len(idx):
        raise ValueError(f"represent must return (n, d) codes, got shape {codes.shape} "
                         f"for {len(idx)} images")
    return codes


def groups(factors, seed: int, n_groups: int = N_GROUPS, group_size: int = GROUP_SIZE):
    """InfoGAN-CR's groups: group j fixes active factor number ``j mod K_active`` at one random
    value and draws every other factor freshly for each of its ``group_size`` images.

    Returns ``(idx, label)``: idx (n_groups, group_size, K) int factor indices, label
    (n_groups,) int in [0, K_active), the position of the fixed factor among the active ones.
    """
    act = active_factors(factors)
    rng = rng_for(seed, _GROUPS)
    idx = np.empty((n_groups, group_size, len(factors.sizes)), dtype=np.int64)
    label = np.arange(n_groups) % len(act)
    for j in range(n_groups):
        f = act[label[j]]
        idx[j] = factors.sample_factors(group_size, rng)
        idx[j, :, f] = rng.integers(factors.sizes[f])
    return idx, label


def std_set(factors, seed: int, n: int | None = None) -> np.ndarray:
    """InfoGAN-CR's std set: ``n`` distinct combinations (default a tenth of all), drawn without
    replacement as its random permutation of the images does; (n, K) int."""
    total = int(np.prod(factors.sizes))
    return distinct_set(factors, seed, total // 10 if n is None else int(n), _STD)


def distinct_set(factors, seed: int, n: int, stream: int) -> np.ndarray:
    """``n`` distinct factor combinations (all of them when the grid has fewer), drawn without
    replacement from the seed's ``stream``, as InfoGAN-CR draws real images without replacement
    from the whole file (std set, dHSIC set); (min(n, total), K) int."""
    sizes = tuple(int(s) for s in factors.sizes)
    total = int(np.prod(sizes))
    flat = rng_for(seed, stream).choice(total, size=min(int(n), total), replace=False)
    return np.stack(np.unravel_index(flat, sizes), axis=1).astype(np.int64)


def labelled_set(factors, seed: int, n: int | None = None) -> np.ndarray:
    """InfoGAN-CR's labelled set: ``n`` combinations (default a tenth of all) drawn with
    replacement, each factor uniform; (n, K) int."""
    n = int(np.prod(factors.sizes)) // 10 if n is None else int(n)
    return factors.sample_factors(n, rng_for(seed, _LABELLED)).astype(np.int64)


def labelled_codes(represent, factors, seed: int, n: int | None = None, batch: int = BATCH):
    """The labelled set of the seed (``labelled_set``) through ``represent``. Returns ``codes``
    (n, d), ``fac`` (n, K_active) the classes of the active factors, and ``act`` (K_active,)
    which factors those are."""
    act = active_factors(factors)
    idx = labelled_set(factors, seed, n)
    return represent_indices(represent, factors, idx, batch), idx[:, act], act


def discretize(codes: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Each column into ``n_bins`` equal-width bins between its min and max (the histogram
    discretiser InfoGAN-CR and disentanglement_lib share); (n, d) int bin numbers in [1, n_bins]."""
    out = np.empty(codes.shape, dtype=np.int64)
    for i in range(codes.shape[1]):
        edges = np.histogram(codes[:, i], n_bins)[1]
        out[:, i] = np.digitize(codes[:, i], edges[:-1])
    return out


def mutual_info(binned: np.ndarray, fac: np.ndarray) -> np.ndarray:
    """Mutual information in nats (sklearn's plug-in estimate), (d, K) for d binned codes and K
    factor columns."""
    return np.array([[mutual_info_score(fac[:, k], binned[:, i]) for k in range(fac.shape[1])]
                     for i in range(binned.shape[1])])


def entropy(fac: np.ndarray) -> np.ndarray:
    """Plug-in entropy in nats of each factor column, (K,)."""
    return np.array([mutual_info_score(fac[:, k], fac[:, k]) for k in range(fac.shape[1])])


def logistic_020():
    """sklearn 0.20's default LogisticRegression, which InfoGAN-CR ran (Python 2.7): liblinear,
    C=1, one-vs-rest over classes (probabilities = the per-class sigmoids normalised to sum 1).
    Today's liblinear refuses 3+ classes itself, hence the explicit one-vs-rest wrapper."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    return OneVsRestClassifier(LogisticRegression(solver="liblinear"))
