"""Known-answer tests of the FID, intra-class FID and Inception Score maths."""

import numpy as np
import pytest
import scipy.linalg

from codegan.errors import UserError
from codegan.metrics.fid import (covariance_factor, feature_stats, fid_from_features,
                                 frechet_distance, intra_class_fid, trace_sqrt_product)
from codegan.metrics.inception_score import inception_score, inception_score_from_logits


def random_spd(d, rng, scale=1.0):
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.1 * np.eye(d))


# ---------------------------------------------------------------- FID


def test_fid_of_a_gaussian_with_itself_is_zero():
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=16), random_spd(16, rng)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)
    # the same set of samples on both sides, including a rank-deficient covariance (N < D)
    f = rng.normal(size=(10, 32))
    assert fid_from_features(f, f) == pytest.approx(0.0, abs=1e-8)


def test_fid_between_diagonal_gaussians_is_the_closed_form():
    # commuting covariances: FID = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 4.0, 8), rng.uniform(0.1, 4.0, 8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_fid_one_dimensional_known_value():
    # N(0, 1) vs N(3, 4): (0 - 3)^2 + (1 - 2)^2 = 10
    assert frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(10.0)


def test_fid_full_covariances_matches_the_sqrtm_formula_and_is_symmetric():
    rng = np.random.default_rng(2)
    d = 24
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = random_spd(d, rng), random_spd(d, rng, scale=3.0)
    # the textbook formula, with SciPy's general matrix square root (what TTUR computes)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    d12 = frechet_distance(mu1, s1, mu2, s2)
    d21 = frechet_distance(mu2, s2, mu1, s1)
    assert d12 == pytest.approx(expected, rel=1e-8)
    assert d12 == pytest.approx(d21, rel=1e-10)
    assert trace_sqrt_product(s1, s2) == pytest.approx(np.trace(covmean), rel=1e-8)


def test_fid_of_shifted_samples_is_the_squared_shift():
    # same covariance, means apart by delta: FID = |delta|^2 exactly
    rng = np.random.default_rng(3)
    f = rng.normal(size=(500, 6))
    delta = np.array([1.0, -2.0, 0.0, 0.5, 0.0, 3.0])
    assert fid_from_features(f, f + delta) == pytest.approx(delta @ delta, rel=1e-9)


def test_feature_stats_are_the_unbiased_mean_and_covariance():
    f = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    mu, sigma = feature_stats(f)
    np.testing.assert_allclose(mu, [2.0, 2.0])
    np.testing.assert_allclose(sigma, [[4.0, 3.0], [3.0, 3.0]])


@pytest.mark.parametrize("bad, why", [
    (np.zeros((5,)), "2-D"),
    (np.zeros((1, 4)), "at least 2"),
    (np.zeros((5, 4), dtype=np.uint8), "floating"),
    (np.full((5, 4), np.nan), "NaN"),
])
def test_fid_rejects_bad_features(bad, why):
    with pytest.raises(UserError, match=why):
        fid_from_features(bad, np.zeros((5, 4)))


def test_fid_rejects_statistics_of_different_width():
    with pytest.raises(UserError, match="different feature widths"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_intra_class_fid_matches_each_code_to_its_closest_class():
    eye = np.eye(3)
    real = {k: (np.eye(3)[k] * 10, eye) for k in range(3)}  # three well-separated classes
    # code 0 sits at class 2 (+ offset 1 on one axis), code 1 at class 0 exactly
    fake = {0: (real[2][0] + [0, 1, 0], eye), 1: (real[0][0].copy(), eye)}
    out = intra_class_fid(fake, real)
    assert out["match"] == {0: 2, 1: 0}
    assert out["per_code"][0] == pytest.approx(1.0)
    assert out["per_code"][1] == pytest.approx(0.0, abs=1e-9)
    assert out["icfid"] == pytest.approx(0.5)
    m = np.array(out["matrix"])
    assert m.shape == (2, 3)
    assert m[1, 1] == pytest.approx(200.0)  # |10 e_0 - 10 e_1|^2


def test_the_low_rank_route_gives_the_sqrtm_formula():
    # fewer samples than dimensions (a code's 1,000 fakes against 2048-d features, scaled down):
    # the N x N route must give what SciPy's square root of S_1 S_2 gives
    rng = np.random.default_rng(7)
    f = rng.normal(size=(12, 30)) * rng.uniform(0.5, 2.0, 30) + rng.normal(size=30)
    a = covariance_factor(f)
    mu, s1 = feature_stats(f)
    assert a.shape == (12, 30)
    np.testing.assert_allclose(a.T @ a, s1, rtol=1e-12, atol=1e-14)
    s2 = random_spd(30, rng, scale=2.0)
    expected = np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
    assert trace_sqrt_product(None, s2, factor1=a) == pytest.approx(expected, rel=1e-7)
    mu2 = rng.normal(size=30)
    assert frechet_distance(mu, s1, mu2, s2, factor1=a) == pytest.approx(
        frechet_distance(mu, s1, mu2, s2), abs=sqrt_roundoff(30, s1, s2))


def sqrt_roundoff(d, s1, s2):
    """How far the D x D route may sit from the exact value when S_1 is rank-deficient: its
    D - N zero eigenvalues come out as round-off of size eps * |S_1 S_2|, whose square roots
    (each up to sqrt(eps * |S_1 S_2|)) enter the trace twice over."""
    return 2 * d * np.sqrt(np.finfo(float).eps * np.linalg.norm(s1, 2) * np.linalg.norm(s2, 2))


def test_intra_class_fid_with_factors_equals_it_without():
    rng = np.random.default_rng(8)
    d = 40
    real = {k: (rng.normal(size=d) * 3, random_spd(d, rng)) for k in range(3)}
    feats = {c: rng.normal(size=(n, d)) + real[c % 3][0] for c, n in enumerate((15, 25, 60))}
    fake = {c: feature_stats(f) for c, f in feats.items()}
    factors = {c: covariance_factor(f) for c, f in feats.items()}  # code 2 too, N > D
    plain, fast = intra_class_fid(fake, real), intra_class_fid(fake, real, factors)
    assert fast["match"] == plain["match"] == {0: 0, 1: 1, 2: 2}
    tol = max(sqrt_roundoff(d, fake[c][1], real[k][1]) for c in fake for k in real)
    np.testing.assert_allclose(fast["matrix"], plain["matrix"], rtol=0, atol=tol)


# ---------------------------------------------------------------- IS


def test_is_of_identical_predictions_is_one():
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(7))
    mean, std = inception_score(np.tile(p, (100, 1)), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("k", [2, 5, 10])
def test_is_of_confident_predictions_spread_evenly_over_k_classes_is_k(k):
    # one-hot rows, each class equally often inside every split
    probs = np.eye(k)[np.arange(10 * 4 * k) % k]
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(k, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_is_known_value_and_splits_are_consecutive():
    # split 1: two confident classes -> 2; split 2: identical rows -> 1. mean 1.5, std 0.5
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7], [0.3, 0.7]])
    mean, std = inception_score(p, splits=2)
    assert mean == pytest.approx(1.5)
    assert std == pytest.approx(0.5)


def test_is_from_logits_equals_is_of_softmax():
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(40, 6)) * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert inception_score_from_logits(logits, splits=4) == pytest.approx(
        inception_score(p, splits=4), rel=1e-12)
    # adding a constant to every logit of a row changes nothing (softmax invariance)
    assert inception_score_from_logits(logits + 100.0, splits=4) == pytest.approx(
        inception_score(p, splits=4), rel=1e-9)


@pytest.mark.parametrize("bad, splits, why", [
    (np.ones((5,)), 1, "2-D"),
    (np.full((5, 2), 0.5), 10, "at least 10"),
    (np.full((10, 2), 0.7), 2, "sum to 1"),
    (np.array([[1.5, -0.5]] * 4), 2, "non-negative"),
    (np.ones((4, 1), dtype=np.int64), 2, "floating"),
])
def test_is_rejects_bad_input(bad, splits, why):
    with pytest.raises(UserError, match=why):
        inception_score(bad, splits=splits)


def test_the_icfid_bench_runs_both_routes_and_appends_its_result(tmp_path, capsys):
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench",
                        "bench_icfid.py")
    spec = importlib.util.spec_from_file_location("bench_icfid", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "icfid.txt"
    small = ["--codes=2", "--classes=2", "--per-code=20", "--per-class=80", "--dim=40"]
    assert bench.main([*small, f"--out={out}"]) == 0
    assert bench.main([*small, f"--out={out}"]) == 0  # a second run goes below the first
    text = out.read_text()
    assert text.count("ratio square root / factor: ") == 2
    diffs = [float(ln.split(": ")[1].split()[0]) for ln in text.splitlines()
             if ln.startswith("largest FID difference")]
    assert len(diffs) == 2 and max(diffs) < 1e-6 * 40  # the two routes agree
    with pytest.raises(SystemExit) as e:  # the factor route needs fewer fakes than dimensions
        bench.main(["--per-code=40", "--dim=40"])
    assert e.value.code == 2 and "is not below --dim=40" in capsys.readouterr().err
