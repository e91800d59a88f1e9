"""A small in-memory ground-truth sampler for tests: factors drawn uniformly, "images" the factor
indices themselves as float vectors, or a fixed linear mixing of them."""

from __future__ import annotations

import numpy as np


class SyntheticFactors:
    """Ground truth with factor sizes ``sizes`` (K ints); ``images(idx)`` gives (n, K) float64
    factor indices, times ``mixing`` (K, m) when one is given, so (n, m). ``categorical`` names
    the factors SAP treats as classes."""

    def __init__(self, sizes, mixing=None, categorical=()):
        self.sizes = tuple(int(s) for s in sizes)
        self.mixing = None if mixing is None else np.asarray(mixing, dtype=np.float64)
        self.categorical = tuple(categorical)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(s, size=n) for s in self.sizes], axis=1).astype(np.int64)

    def images(self, factor_idx: np.ndarray) -> np.ndarray:
        x = np.asarray(factor_idx, dtype=np.float64)
        return x if self.mixing is None else x @ self.mixing
