"""DCI disentanglement and completeness (Eastwood & Williams 2018), by InfoGAN-CR's procedure
(its ``DCIMetric``, itself after cianeastwood/qedr).

Protocol (defaults = the published dSprites protocol): the labelled set (``n`` = a tenth of all
combinations, drawn with replacement). Codes and factors are z-scored over it (mean, std ddof 0).
For each active factor j a regressor predicts it from all codes; |its importances| form column j
of R (d, K_active). ``regressor`` (InfoGAN-CR computes all five; which fed its Table 1 is not
stated):
  * ``"lasso"`` (default): Lasso(alpha=0.02), importances |coef|;
  * ``"lasso_cv"``: LassoCV with 3 folds (sklearn 0.20's default, which InfoGAN-CR ran);
  * ``"random_forest"``: RandomForestRegressor(max_depth=depths[j]), depths (4,5,2,5,5) for
    dSprites' shape, scale, orientation, x, y; 10 trees (sklearn 0.20's default);
  * ``"random_forest_ibgan"``: the same with depths (4,2,4,2,2) (IB-GAN's settings);
  * ``"random_forest_cv"``: GridSearchCV over max_depth 2..15, 3 folds, 10 trees.
Forests are seeded with ``seed`` (InfoGAN-CR left them unseeded). Pass ``depths`` for a sampler
whose active factors are not dSprites' five.
  * disentanglement: for each code i, 1 - entropy of row i of R normalised to sum 1 (log base
    K_active), weighted by row i's share of R's total;
  * completeness: for each factor j, 1 - entropy of column j normalised (log base d), then the
    plain mean over factors.

Value range [0, 1] each: 1 when R is a permutation-like matrix (each code predicts one factor,
each factor predicted by one code); chance 0 for the Lasso at the protocol's size (alpha=0.02
zeroes correlations under 0.02) and near 0 for forests. The Lasso's scores are unstable near
chance: with few samples one chance correlation above 0.02 survives alone, and a row with one
non-zero entry scores 1, so noise codes can score near 1 on a few thousand samples.

Where this differs: rows or columns of R that are all zero (nothing predicted) give NaN in
InfoGAN-CR; here such a code has weight 0 and such a factor completeness 0. The entropies use
the natural 1e-12 guard of InfoGAN-CR inside the log. google-research/disentanglement_lib fits
sklearn's GradientBoostingClassifier to the factor classes on 10,000 samples, weights
completeness by each factor's share of R, and adds informativeness (accuracy on 5,000 fresh
samples).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Lasso, LassoCV
from sklearn.model_selection import GridSearchCV

from . import _common as C

REGRESSORS = ("lasso", "lasso_cv", "random_forest", "random_forest_ibgan", "random_forest_cv")
DEPTHS = {"random_forest": (4, 5, 2, 5, 5), "random_forest_ibgan": (4, 2, 4, 2, 2)}
_TINY = 1e-12


def importances(codes: np.ndarray, fac: np.ndarray, regressor: str = "lasso", *,
                depths=None, seed: int = 0) -> np.ndarray:
    """R (d, K) >= 0: importance of each z-scored code for each z-scored factor column."""
    if regressor not in REGRESSORS:
        raise ValueError(f"regressor {regressor!r} is not one of {REGRESSORS}")
    x = _zscore(codes)
    y = _zscore(fac.astype(np.float64))
    if regressor in DEPTHS:
        depths = DEPTHS[regressor] if depths is None else depths
        if len(depths) != y.shape[1]:
            raise ValueError(f"{regressor} needs one max_depth per factor: {len(depths)} depths "
                             f"for {y.shape[1]} factors (pass depths=...)")
    r = np.zeros((x.shape[1], y.shape[1]))
    for j in range(y.shape[1]):
        if regressor == "lasso":
            r[:, j] = Lasso(alpha=0.02).fit(x, y[:, j]).coef_
        elif regressor == "lasso_cv":
            r[:, j] = LassoCV(cv=3).fit(x, y[:, j]).coef_
        elif regressor == "random_forest_cv":
            grid = GridSearchCV(RandomForestRegressor(n_estimators=10, random_state=seed),
                                {"max_depth": list(range(2, 16))}, cv=3)
            r[:, j] = grid.fit(x, y[:, j]).best_estimator_.feature_importances_
        else:
            rf = RandomForestRegressor(n_estimators=10, max_depth=int(depths[j]),
                                       random_state=seed)
            r[:, j] = rf.fit(x, y[:, j]).feature_importances_
    return np.abs(r)


def _zscore(a: np.ndarray) -> np.ndarray:
    sd = a.std(axis=0)
    # why: a constant column carries nothing; leave it at 0 instead of dividing by 0
    return (a - a.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _one_minus_entropy(r: np.ndarray) -> np.ndarray:
    """1 - normalised entropy of each column of r (columns of zeros give 0), (r.shape[1],)."""
    tot = r.sum(axis=0)
    p = r / np.where(tot > 0, tot, 1.0)
    h = -(p * np.log(p + _TINY)).sum(axis=0) / np.log(r.shape[0] + _TINY)
    return np.where(tot > 0, 1.0 - h, 0.0)


def from_importances(r: np.ndarray) -> dict:
    """Disentanglement and completeness of an importance matrix R (d, K)."""
    if r.sum() == 0:
        return {"dci_disentanglement": 0.0, "dci_completeness": 0.0}
    d_code = _one_minus_entropy(r.T)  # per code, over factors
    weight = r.sum(axis=1) / r.sum()
    # why clip: the 1e-12 guard inside the log can put a perfect score at 1 + 1e-12
    return {"dci_disentanglement": float(np.clip((d_code * weight).sum(), 0.0, 1.0)),
            "dci_completeness": float(np.clip(_one_minus_entropy(r).mean(), 0.0, 1.0))}


def score(represent, factors, *, seed: int = 0, n: int | None = None,
          regressor: str = "lasso", depths=None, batch: int = C.BATCH) -> dict:
    """``{"dci_disentanglement": [0,1], "dci_completeness": [0,1], "importance": (d, K_active),
    "regressor": str}``. See the module docstring."""
    codes, fac, _ = C.labelled_codes(represent, factors, seed, n, batch)
    r = importances(codes, fac, regressor, depths=depths, seed=seed)
    return {**from_importances(r), "importance": r, "regressor": regressor}
