"""Disentanglement metrics (codegan.metrics.disentanglement) on known answers: the maximum on a
representation that is the true factors, the chance value on noise, and a hand-computed value on
a constructed case for each. Sample counts are small (the protocol sizes are the defaults)."""

import math

import numpy as np
import pytest

from codegan.metrics.disentanglement import (METRICS, SyntheticFactors, beta_vae, dci,
                                             explicitness, factor_vae, mig, modularity, sap)
from codegan.metrics.disentanglement import _common

GROUPS = dict(n_groups=60, group_size=20)  # 60: divisible by 2, 3, 4, 5 active factors
# active factors all at most 21 values (20 bins keep them apart), plus a constant one
SIZES = (1, 3, 6, 8, 10, 12)
TRUE = SyntheticFactors(SIZES)


def identity(x):
    return x


def true_codes(x):  # the active factors themselves, one per dimension
    return x[:, 1:]


def noise(x):
    # why seeded per call from the data: the same images give the same codes, as a net would
    rng = np.random.default_rng(int(np.abs(x).sum()) % 2**32)
    return rng.normal(size=(len(x), 5))


def keep(*cols):
    return lambda x: x[:, list(cols)]


# --- shared evaluation sets ----------------------------------------------------------------

def test_groups_fix_one_active_factor_each_in_turn():
    idx, label = _common.groups(TRUE, seed=3, n_groups=10, group_size=7)
    assert idx.shape == (10, 7, 6) and list(label) == [0, 1, 2, 3, 4] * 2
    for j in range(10):
        f = 1 + label[j]  # factor 0 is constant, so active factor i is factor i + 1
        assert len(set(idx[j, :, f])) == 1
    again = _common.groups(TRUE, seed=3, n_groups=10, group_size=7)[0]
    assert np.array_equal(idx, again)  # fixed seed: every metric sees the same images


def test_std_set_draws_distinct_combinations_and_defaults_to_a_tenth():
    s = _common.std_set(TRUE, seed=0)
    assert len(s) == math.prod(SIZES) // 10
    assert len(np.unique(np.ravel_multi_index(s.T, SIZES))) == len(s)


def test_every_metric_has_one_signature_and_a_headline_key():
    fast = {"factor_vae": dict(GROUPS, n_std=500), "beta_vae": GROUPS}
    for name, fn in METRICS.items():
        out = fn(true_codes, TRUE, seed=1, **fast.get(name, dict(n=600)))
        head = next(iter(out))
        assert head.startswith(name.split("_")[0]) and 0.0 <= out[head] <= 1.0, name


def test_batching_does_not_change_a_score():
    a = mig.score(true_codes, TRUE, n=900, batch=900)["mig"]
    b = mig.score(true_codes, TRUE, n=900, batch=7)["mig"]
    assert a == b


# --- FactorVAE ------------------------------------------------------------------------------

def test_factor_vae_maximum_chance_and_dropped_factor():
    assert factor_vae.score(true_codes, TRUE, n_std=1000, **GROUPS)["factor_vae"] == 1.0
    r = factor_vae.score(noise, TRUE, n_std=1000, n_groups=500, group_size=20)
    assert abs(r["factor_vae"] - 1 / 5) < 0.12  # chance 1/K, biased up by each row's maximum
    # Three factors, codes for the first two only. Groups fixing factor 0 or 1 vote for their
    # own dimension (std 0): 20 + 20 votes. Groups fixing factor 2 vote for either dimension,
    # but a row already holds 20 votes of its own factor, so neither row's maximum exceeds 20
    # unless all 20 land in one row, which then ties: score (20 + 20) / 60 = 2/3 exactly.
    f3 = SyntheticFactors((5, 5, 5))
    r = factor_vae.score(keep(0, 1), f3, n_std=100, **GROUPS)
    assert r["factor_vae"] == pytest.approx(2 / 3) and r["factor_vae_revised"] == pytest.approx(2 / 3)
    assert list(r["votes"][:, :2].diagonal()) == [20, 20]


def test_factor_vae_skips_a_constant_dimension():
    r = factor_vae.score(lambda x: np.c_[np.zeros(len(x)), x[:, 1:]], TRUE, n_std=500, **GROUPS)
    assert r["factor_vae"] == 1.0 and r["votes"][0].sum() == 0


# --- BetaVAE --------------------------------------------------------------------------------

def test_beta_vae_maximum_chance_and_single_factor_code():
    assert beta_vae.score(true_codes, TRUE, **GROUPS)["beta_vae"] == 1.0
    r = beta_vae.score(noise, TRUE, n_groups=500, group_size=20)["beta_vae"]
    assert abs(r - 1 / 5) < 0.1
    # One code = factor 0 of three: groups fixing factor 0 give feature 0 (all right); groups
    # fixing factor 1 or 2 give features of one distribution, told apart at chance (1/2):
    # accuracy 1/3 + 2/3 * 1/2 = 2/3.
    r = beta_vae.score(keep(0), SyntheticFactors((5, 5, 5)), n_groups=600, group_size=20)
    assert r["beta_vae"] == pytest.approx(2 / 3, abs=0.05)


# --- SAP ------------------------------------------------------------------------------------

def test_sap_maximum_chance_and_rotated_pair():
    assert sap.score(true_codes, TRUE, n=3000)["sap"] == pytest.approx(1.0, abs=0.01)
    assert sap.score(noise, TRUE, n=3000)["sap"] < 0.01
    # codes (f0 + f1, f0 - f1, f2), f0 and f1 of equal variance: each of f0, f1 has squared
    # correlation 1/2 with both of the first two codes (gap 0); f2 has gap 1. SAP = 1/3.
    mixed = SyntheticFactors((8, 8, 8), mixing=[[1, 1, 0], [1, -1, 0], [0, 0, 1]])
    r = sap.score(identity, mixed, n=6000)
    assert r["sap"] == pytest.approx(1 / 3, abs=0.02)
    assert r["scores"][:2, :2] == pytest.approx(np.full((2, 2), 0.5), abs=0.03)


def test_sap_categorical_factor_gap_is_one_minus_chance_accuracy():
    # a two-class categorical factor: its own code classifies it perfectly (1), the other code
    # at chance (1/2 with balanced weights): gap 1/2; the continuous factor's gap is 1.
    f = SyntheticFactors((2, 10), categorical=(0,))
    r = sap.score(identity, f, n=3000)
    assert r["scores"][0, 0] == 1.0
    assert r["sap"] == pytest.approx(0.75, abs=0.03)


# --- MIG ------------------------------------------------------------------------------------

def test_mig_maximum_chance_duplicate_code_and_binning():
    assert mig.score(true_codes, TRUE, n=5000)["mig"] == pytest.approx(1.0, abs=0.02)
    assert mig.score(noise, TRUE, n=5000)["mig"] < 0.02
    # f0 coded twice: its two top MIs are equal (gap 0); f1 coded once (gap 1). MIG = 1/2.
    r = mig.score(keep(0, 0, 1), SyntheticFactors((4, 4)), n=5000)
    assert r["mig"] == pytest.approx(0.5, abs=0.01)
    # 40 values in 20 equal bins: two values a bin, so even the true factor keeps only
    # log 20 of log 40 nats (dSprites' orientation); the 5-value factor keeps all.
    r = mig.score(identity, SyntheticFactors((40, 5)), n=20000)
    assert r["mig"] == pytest.approx((math.log(20) / math.log(40) + 1) / 2, abs=0.01)


# --- Modularity -----------------------------------------------------------------------------

def test_modularity_maximum_middle_chance_and_joint_code():
    assert modularity.score(true_codes, TRUE, n=5000)["modularity"] == pytest.approx(1.0, abs=0.01)
    # noise: MI is plug-in bias only, similar for every factor; no clean chance value, but far
    # from the maximum
    assert 0.2 < modularity.score(noise, TRUE, n=5000)["modularity"] < 0.8
    # code 0 = 4 f0 + f1 (16 values, its own bin each) carries H(f0) and H(f1) equally: with 3
    # factors 1 - m^2 / (m^2 * 2) = 1/2; code 1 = f2 scores 1. Mean 3/4.
    r = modularity.score(lambda x: np.c_[4 * x[:, 0] + x[:, 1], x[:, 2]],
                         SyntheticFactors((4, 4, 4)), n=8000)
    assert r["modularity"] == pytest.approx(0.75, abs=0.02)
    assert modularity.per_code(np.zeros((1, 3)))[0] == 0.0  # no information: 0, not NaN


# --- Explicitness ---------------------------------------------------------------------------

def test_explicitness_maximum_chance_and_missing_factor():
    binary = SyntheticFactors((2, 2, 2))
    assert explicitness.score(identity, binary, n=2000)["explicitness"] == 1.0
    # chance 1/2, plus the optimism of scoring on the fitted samples (0.53 at n=3000, 0.52 at
    # 10,000 for these 3- to 12-class factors)
    assert explicitness.score(noise, TRUE, n=10000)["explicitness"] == pytest.approx(0.5, abs=0.03)
    # f0 coded, f1 not: AUC 1 and 1/2, mean 3/4
    r = explicitness.score(keep(0), SyntheticFactors((2, 2)), n=4000)
    assert r["per_factor"][0] == 1.0
    assert r["explicitness"] == pytest.approx(0.75, abs=0.02)


# --- DCI ------------------------------------------------------------------------------------

def test_dci_maximum_and_chance():
    for reg in ("lasso", "random_forest"):
        r = dci.score(true_codes, TRUE, n=3000, regressor=reg)
        assert r["dci_disentanglement"] == pytest.approx(1.0, abs=1e-6), reg
        assert r["dci_completeness"] == pytest.approx(1.0, abs=1e-6), reg
    # Lasso at enough samples: chance correlations stay under alpha = 0.02, R = 0, scores 0
    r = dci.score(noise, TRUE, n=40000)
    assert r["dci_disentanglement"] == 0.0 and r["dci_completeness"] == 0.0
    r = dci.score(noise, TRUE, n=3000, regressor="random_forest")
    assert r["dci_disentanglement"] < 0.15 and r["dci_completeness"] < 0.15


def test_dci_lasso_on_a_rotated_pair_by_hand():
    # codes (f0 + f1, f2), z-scored; f0, f1 of equal variance. Lasso(0.02) on standardised,
    # uncorrelated inputs soft-thresholds each correlation: f0 and f1 get a = 1/sqrt2 - 0.02 on
    # code 0, f2 gets b = 1 - 0.02 on code 1. Code 0: entropy of (1/2, 1/2, 0) base 3 =
    # log2/log3; code 1: 0. Weights 2a : b. Each factor has one code: completeness 1.
    a, b = 1 / math.sqrt(2) - 0.02, 0.98
    want = ((1 - math.log(2) / math.log(3)) * 2 * a + b) / (2 * a + b)
    r = dci.score(lambda x: np.c_[x[:, 0] + x[:, 1], x[:, 2]], SyntheticFactors((8, 8, 8)),
                  n=20000)
    assert r["importance"] == pytest.approx(np.array([[a, a, 0], [0, 0, b]]), abs=0.02)
    assert r["dci_disentanglement"] == pytest.approx(want, abs=0.02)  # 0.632
    assert r["dci_completeness"] == pytest.approx(1.0, abs=1e-6)


def test_dci_from_importances_edge_cases():
    assert dci.from_importances(np.zeros((3, 2))) == {"dci_disentanglement": 0.0,
                                                      "dci_completeness": 0.0}
    # a factor no code predicts has completeness 0; the code row of zeros has weight 0
    r = dci.from_importances(np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert r == {"dci_disentanglement": pytest.approx(1.0), "dci_completeness": pytest.approx(0.5)}
    with pytest.raises(ValueError, match="depths"):
        dci.score(true_codes, SyntheticFactors((3, 3)), n=100, regressor="random_forest")


# --- known answers that tell the protocol's details apart --------------------------------------

def test_factor_vae_normalises_each_dimension_by_its_global_std():
    """A dimension on a tiny scale has tiny local stds everywhere: without dividing by its
    global std it would win every vote. With the division the true codes (plus a little noise,
    so no local std is exactly 0) still vote for their own factor."""
    def scaled(x):
        rng = np.random.default_rng(int(np.abs(x).sum()) % 2**32)
        codes = x[:, 1:] + 0.05 * rng.normal(size=(len(x), 5))
        return codes * np.array([1e-3, 1, 1, 1, 1])

    r = factor_vae.score(scaled, TRUE, n_std=1000, **GROUPS)
    assert r["factor_vae"] > 0.95


def test_discretize_puts_the_minimum_in_bin_1_and_the_maximum_in_the_last():
    """The histogram discretiser: equal-width bins between min and max, numbered 1..n_bins,
    the maximum in bin n_bins with the values of its bin (numpy's last bin is closed)."""
    x = np.arange(20.0)[:, None]
    assert list(_common.discretize(x, 20)[:, 0]) == list(range(1, 21))
    assert list(_common.discretize(np.array([[0.0], [0.49], [0.5], [1.0]]), 2)[:, 0]) == \
        [1, 1, 2, 2]


def test_explicitness_is_the_macro_average_of_one_vs_rest_aucs():
    """Per factor: the mean over classes of each class's one-vs-rest ROC-AUC of the fitted
    logistic regression's probabilities (macro), not the AUC of all pooled decisions (micro);
    imbalanced classes make the two differ."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.choice(3, size=400, p=[0.6, 0.3, 0.1])
    codes = np.c_[y + rng.normal(scale=1.2, size=400), rng.normal(size=400)]
    got = explicitness.per_factor(codes, y[:, None])[0]
    clf = _common.logistic_020().fit(codes, y)
    proba = clf.predict_proba(codes)
    onehot = (y[:, None] == clf.classes_[None]).astype(int)
    macro = np.mean([roc_auc_score(onehot[:, j], proba[:, j]) for j in range(3)])
    micro = roc_auc_score(onehot.ravel(), proba.ravel())
    assert got == pytest.approx(macro, rel=1e-12) and abs(macro - micro) > 1e-3
