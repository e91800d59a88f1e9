import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from codegan.evaluation.e_based import kmeans_scores
from codegan.metrics import acc_hungarian, acc_purity, ari, nmi


def test_hungarian_and_purity_differ_when_two_clusters_share_a_class():
    labels = np.array([0, 0, 0, 0, 1, 1])
    clusters = np.array([0, 0, 1, 1, 1, 1])  # clusters 0 and 1 both mostly class 0
    # purity: cluster 0 -> class 0 (2 right), cluster 1 -> majority class (2 of 4): 4/6
    assert acc_purity(labels, clusters) == pytest.approx(4 / 6)
    # one-to-one: best is cluster 0 -> class 0 (2), cluster 1 -> class 1 (2): 4/6 too; make
    # purity strictly larger with three clusters on one class
    labels = np.array([0, 0, 0, 1, 1, 1])
    clusters = np.array([0, 1, 2, 2, 2, 2])
    assert acc_purity(labels, clusters) == pytest.approx(5 / 6)  # 1 + 1 + 3
    assert acc_hungarian(labels, clusters) == pytest.approx(4 / 6)  # {0->0: 1, 2->1: 3}


def test_perfect_and_permuted_clusterings():
    labels = np.repeat(np.arange(5), 7)
    perm = np.array([3, 0, 4, 1, 2])[labels]
    for f in (acc_hungarian, acc_purity, nmi, ari):
        assert f(labels, perm) == pytest.approx(1.0)


def test_nmi_ari_match_scikit_learn():
    rng = np.random.default_rng(0)
    for _ in range(20):
        labels = rng.integers(0, 6, 200)
        clusters = np.where(rng.random(200) < 0.6, labels, rng.integers(0, 8, 200))
        assert nmi(labels, clusters) == pytest.approx(normalized_mutual_info_score(labels,
                                                                                   clusters))
        assert ari(labels, clusters) == pytest.approx(adjusted_rand_score(labels, clusters))


def test_nmi_ari_known_answers():
    # clusters {0, 0 | 0, 1, 1, 1} against classes {0, 0, 0 | 1, 1, 1}; contingency rows (2, 0)
    # and (1, 3), n = 6; natural logarithms
    labels, clusters = [0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]
    mi = np.log(2) / 6 + np.log(1.5) / 2  # sum p_ky log(p_ky / (p_k p_y))
    h_clusters, h_classes = np.log(3) - 2 * np.log(2) / 3, np.log(2)
    assert nmi(labels, clusters) == pytest.approx(mi / ((h_clusters + h_classes) / 2))
    # pairs within cells 1 + 0 + 3 = 4, within clusters 1 + 6 = 7, within classes 3 + 3 = 6;
    # expected 7 * 6 / 15 = 2.8, max (7 + 6) / 2 = 6.5: ARI = 1.2 / 3.7
    assert ari(labels, clusters) == pytest.approx(12 / 37)


def test_nmi_of_a_relabelled_clustering_is_exactly_one():
    # seed 2 is a case where the raw ratio rounds to 1.0000000000000002
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 10, 1000)
    assert nmi(labels, rng.permutation(10)[labels]) == 1.0


def test_random_clustering_scores_near_chance():
    rng = np.random.default_rng(1)
    labels, clusters = rng.integers(0, 10, 20000), rng.integers(0, 10, 20000)
    assert abs(ari(labels, clusters)) < 0.01 and nmi(labels, clusters) < 0.01
    assert acc_hungarian(labels, clusters) < 0.13


def test_kmeans_scores_on_separated_blobs():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    centres = np.eye(4) * 10
    feats = centres[labels] + rng.normal(size=(200, 4))
    res = kmeans_scores(feats, labels, 4, runs=3)
    for k in ("acc", "acc_purity", "nmi", "ari"):
        assert res[k] == pytest.approx(1.0) and res[k + "_std"] == pytest.approx(0.0)
        assert res[k + "_best_of_runs"] == pytest.approx(1.0)
