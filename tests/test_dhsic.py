"""dHSIC (codegan.metrics.disentanglement.dhsic) on known answers: a direct loop over Pfister et
al.'s formula on a tiny case, a two-point case solved by hand, independent codes near 0 and
falling with n, dependent codes clearly above, the bandwidth's behaviour under scaling, and
bad input refused with a clear message."""

import itertools
import math
import statistics

import numpy as np
import pytest

from codegan.errors import UserError
from codegan.evaluation.disentangle import protocol_kwargs
from codegan.metrics.disentanglement import METRICS, SyntheticFactors, dhsic


def loop_dhsic(x, kernel="infogan_cr"):
    """The estimator written out as its formula, one entry at a time (no numpy vectorisation)."""
    n, d = len(x), len(x[0])
    h = []
    for k in range(d):
        if kernel == "infogan_cr":  # all n^2 ordered pairs, i = j included
            dist = [abs(x[i][k] - x[j][k]) for i in range(n) for j in range(n)]
        else:  # pairs i < j
            dist = [abs(x[i][k] - x[j][k]) for i, j in itertools.combinations(range(n), 2)]
        h.append(statistics.median(dist))

    def K(k, i, j):
        a = abs(x[i][k] - x[j][k])
        return math.exp(-a / h[k] ** 2) if kernel == "infogan_cr" else math.exp(-(a / h[k]) ** 2)

    t1 = sum(math.prod(K(k, i, j) for k in range(d)) for i in range(n) for j in range(n)) / n ** 2
    t2 = math.prod(sum(K(k, i, j) for i in range(n) for j in range(n)) / n ** 2 for k in range(d))
    t3 = -2 / n ** (d + 1) * sum(math.prod(sum(K(k, i, j) for j in range(n)) for k in range(d))
                                 for i in range(n))
    return t1 + t2 + t3, [t1, t2, t3], h


@pytest.mark.parametrize("kernel", dhsic.KERNELS)
def test_vectorised_estimator_equals_the_formula_in_a_loop(kernel):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3))
    x[:, 2] += x[:, 0]  # some dependence, so the value is not just bias
    want, terms, h = loop_dhsic(x.tolist(), kernel)
    for block in (None, 1, 4):  # rows per block change only memory
        got = dhsic.dhsic(x, kernel, block=block)
        assert got["dhsic"] == pytest.approx(want, rel=1e-12, abs=1e-15)
        assert got["terms"] == pytest.approx(terms, rel=1e-12)
        assert got["bandwidth"] == pytest.approx(h, rel=1e-12)
    assert want > 0


def test_two_points_by_hand():
    # n = 2: per dimension the distances are {0, 0, D, D}, median h = D/2, so the off-diagonal
    # kernel is a = exp(-D / (D/2)^2) = exp(-4/D). With K = [[1, a], [a, 1]] and [[1, b], [b, 1]]:
    # term1 = (2 + 2ab)/4, term2 = (1+a)(1+b)/4, term3 = -(1+a)(1+b)/2, sum (1-a)(1-b)/4.
    x = np.array([[0.0, 5.0], [1.0, 3.0]])  # D = 1 and 2
    a, b = math.exp(-4), math.exp(-2)
    res = dhsic.dhsic(x)
    assert res["dhsic"] == pytest.approx((1 - a) * (1 - b) / 4, rel=1e-12)
    assert list(res["bandwidth"]) == [0.5, 1.0]


def test_independent_dimensions_near_zero_and_falling_with_n():
    """The V-statistic's bias is of order 1/n: about 0.8/n for 3 uniform dimensions."""
    factors = SyntheticFactors((1000, 1000, 1000))  # nearly continuous, independent factors

    def mean_over_seeds(n):
        return np.mean([dhsic.score(lambda v: v, factors, seed=s, n=n)["dhsic"]
                        for s in range(3)])

    small, large = mean_over_seeds(200), mean_over_seeds(2000)
    assert 0 < large < small / 4 and large < 2e-3


def test_dependent_dimensions_score_clearly_higher():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(1000, 3))
    indep = dhsic.dhsic(x)["dhsic"]
    for dep in (x[:, 0], -x[:, 0], x[:, 0] ** 3):  # identical, mirrored, monotone copies
        y = x.copy()
        y[:, 1] = dep
        assert dhsic.dhsic(y)["dhsic"] > 10 * indep
    assert dhsic.dhsic(np.c_[x[:, 0], x[:, 0], x[:, 0]])["dhsic"] > 10 * indep


def test_scaling_a_dimension():
    """InfoGAN-CR divides |D| by h^2, so scaling a dimension by s flattens its kernel by s: the
    value changes. The Gaussian kernel with the median bandwidth is scale invariant."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(300, 3))
    x[:, 1] += 0.5 * x[:, 0]
    y = x * np.array([10.0, 1.0, 0.1])
    g, gy = dhsic.dhsic(x, "gaussian"), dhsic.dhsic(y, "gaussian")
    assert gy["dhsic"] == pytest.approx(g["dhsic"], rel=1e-9)
    o, oy = dhsic.dhsic(x), dhsic.dhsic(y)
    assert oy["bandwidth"] == pytest.approx(o["bandwidth"] * [10.0, 1.0, 0.1], rel=1e-12)
    assert abs(oy["dhsic"] - o["dhsic"]) > 0.1 * o["dhsic"]
    # the same scaled codes equal the unscaled ones with h_k^2 replaced by s_k h_k^2, directly
    s = np.array([10.0, 1.0, 0.1])
    kern = [np.exp(-np.abs(np.subtract.outer(x[:, k], x[:, k])) / (s[k] * o["bandwidth"][k] ** 2))
            for k in range(3)]
    n = len(x)
    want = (np.prod(kern, 0).sum() / n ** 2 + np.prod([m.mean() for m in kern])
            - 2 * np.prod([m.mean(1) for m in kern], 0).mean())
    assert oy["dhsic"] == pytest.approx(want, rel=1e-9)


def test_collapsed_dimension_gives_nan_and_names_it():
    x = np.random.default_rng(3).normal(size=(50, 3))
    x[:, 1] = 0.25  # a code dimension the encoder never uses: h = 0
    res = dhsic.dhsic(x)
    assert math.isnan(res["dhsic"]) and res["zero_bandwidth"] == [1]


def test_bad_input_is_one_clear_error():
    x = np.random.default_rng(4).normal(size=(10, 3))
    with pytest.raises(UserError, match="at least 2 of them; this representation has 1"):
        dhsic.dhsic(x[:, :1])
    with pytest.raises(UserError, match="at least 2 images"):
        dhsic.dhsic(x[:1])
    with pytest.raises(UserError, match=r"shape \(n, d\)"):
        dhsic.dhsic(x[None])
    with pytest.raises(UserError, match="NaN"):
        dhsic.dhsic(np.where(x > 1, np.nan, x))
    with pytest.raises(UserError, match="choose one of infogan_cr, gaussian"):
        dhsic.dhsic(x, "laplace")
    with pytest.raises(UserError, match="n=1"):
        dhsic.score(lambda v: v, SyntheticFactors((5, 5)), n=1)
    with pytest.raises(UserError, match="has 1"):  # a one-dimensional representation
        dhsic.score(lambda v: v[:, :1], SyntheticFactors((5, 5)), n=20)


def test_registered_seeded_and_sized_by_the_protocol():
    assert METRICS["dhsic"] is dhsic.score
    factors = SyntheticFactors((1, 4, 30, 30))
    a = dhsic.score(lambda v: v[:, 1:], factors, seed=0, n=300)
    assert a["dhsic"] == dhsic.score(lambda v: v[:, 1:], factors, seed=0, n=300)["dhsic"]
    assert a["n"] == 300 and a["kernel"] == "infogan_cr" and len(a["bandwidth"]) == 3
    assert a["dhsic"] == pytest.approx(sum(a["dhsic_terms"]), abs=1e-15)
    assert dhsic.score(lambda v: v[:, 1:], factors, seed=1, n=300)["dhsic"] != a["dhsic"]
    # a grid smaller than n: every combination once
    assert dhsic.score(lambda v: v, SyntheticFactors((3, 4)), n=5000)["n"] == 12
    # score_all's n only shrinks dHSIC's 5,000 images; the other metrics take it as it is
    assert protocol_kwargs("dhsic", 0)["seed"] == 0 and "n" not in protocol_kwargs("dhsic", 0)
    assert protocol_kwargs("dhsic", 0, n=2000)["n"] == 2000
    assert protocol_kwargs("dhsic", 0, n=73_728)["n"] == dhsic.N == 5000
    assert protocol_kwargs("mig", 0, n=73_728)["n"] == 73_728
    assert protocol_kwargs("factor_vae", 0, n=9, n_groups=3) == {"seed": 0, "n_std": 9,
                                                                  "n_groups": 3}
    assert protocol_kwargs("beta_vae", 0, n=9, group_size=4) == {"seed": 0, "group_size": 4}
