"""The G-based protocol and its classifier (codegan/evaluate_g.py, codegan/classifier.py)."""

import os

import numpy as np
import pytest
import torch

from codegan.classifier import heldout_mask, load_classifier, main as train_classifier_main
from codegan.config import load_config
from codegan.errors import UserError
from codegan.evaluate_g import evaluate_g_based, generate_per_code, score_outputs
from codegan.trainer import load_models
from extra_fixtures import REPO, coil_classifier, coil_subset  # noqa: F401  (fixtures)

COIL = os.path.join(REPO, "COIL-20")


def one_hot(idx, k):
    return np.eye(k)[idx]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_score_outputs_known_answers():
    codes = np.repeat(np.arange(4), 5)
    # the classifier puts every code's images in one class, under a permuted naming: a perfect
    # clustering (ACC 1 after matching), both by argmax and by k-means
    perm = np.array([2, 0, 3, 1])
    res = score_outputs(one_hot(perm[codes], 4), codes, 4, "kmeans", runs=2, seed=0)
    for key in ("acc", "acc_purity", "nmi", "ari", "argmax_acc", "argmax_nmi"):
        assert res[key] == pytest.approx(1.0), key
    # everything in one class: Hungarian ACC 1/K, NMI 0
    res = score_outputs(one_hot(np.zeros(20, int), 4), codes, 4, "argmax", runs=1, seed=0)
    assert res["acc"] == pytest.approx(0.25) and res["nmi"] == pytest.approx(0.0)
    assert res["acc_std"] == 0.0 and res["acc_best_of_runs"] == res["acc"]
    assert "kmeans_acc" in res and "argmax_acc" not in res
    # two codes merged into one class: purity counts it once -> 0.75 for both ACCs
    merged = np.array([0, 0, 1, 2])[codes]
    res = score_outputs(one_hot(merged, 4), codes, 4, "argmax", runs=1, seed=0)
    assert res["acc"] == pytest.approx(0.75) and res["acc_purity"] == pytest.approx(0.75)


def test_generate_per_code_is_code_major_and_deterministic():
    class G(torch.nn.Module):  # an image that is its code: a checkable generator
        def forward(self, z, c):
            return c.float().view(-1, 1, 1, 1).expand(-1, 1, 2, 2) + 0 * z[:, :1, None, None]

    x, c = generate_per_code(G(), 3, 5, 4, "cpu", seed=1, batch_size=5)
    assert x.shape == (12, 1, 2, 2)
    assert torch.equal(c, torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]))
    assert torch.equal(x[:, 0, 0, 0], c.float())


def test_heldout_mask():
    assert heldout_mask(np.arange(10), 5).tolist() == [False] * 4 + [True] + [False] * 4 + [True]


def test_classifier_file_and_g_based_evaluation(coil_subset, coil_classifier, tmp_path):
    root = coil_subset[0]
    cfg = load_config(os.path.join(COIL, "param.yml"), {
        "data_root": root, "device": "cpu", "classifier_path": coil_classifier,
        "g_eval_per_class": 3, "kmeans_runs": 1, "eval_batch_size": 64})
    model, info = load_classifier(coil_classifier, cfg)
    assert (info["n_train"], info["n_heldout"]) == (20, 20)  # pose 1 of each object held out
    assert 0.0 <= info["heldout_acc"] <= 1.0 and not model.training
    torch.manual_seed(0)
    nets = load_models(COIL).build_nets(cfg)
    data = {}
    res = evaluate_g_based(nets, cfg, data, "cpu")
    for key in ("acc", "acc_purity", "nmi", "ari", "argmax_acc", "e_acc", "e_nmi"):
        assert 0.0 <= res[key] <= 1.0 or key in ("ari",), key
    assert res["classifier_heldout_acc"] == info["heldout_acc"]
    assert "g-based" in res["protocol"] and "E-based" in res["protocol"]
    assert len(data["real_x"]) == 40  # the real images are read once and kept
    again = evaluate_g_based(nets, cfg, data, "cpu")  # fixed noise, seeded k-means
    assert again["acc"] == res["acc"] and again["e_acc"] == res["e_acc"]
    # the file is never overwritten
    with pytest.raises(SystemExit):
        train_classifier_main(COIL, [f"--data_root={root}", f"--out={coil_classifier}"])


def test_missing_or_foreign_classifier(coil_subset, coil_classifier, tmp_path, capsys):
    root = coil_subset[0]
    cfg = load_config(os.path.join(COIL, "param.yml"), {
        "data_root": root, "device": "cpu", "classifier_path": str(tmp_path / "none.pt"),
        "g_eval_per_class": 2, "kmeans_runs": 1})
    with pytest.raises(UserError, match="train_classifier.py"):
        load_classifier(cfg.classifier_path, cfg)
    nets = load_models(COIL).build_nets(cfg)
    res = evaluate_g_based(nets, cfg, {}, "cpu")  # training goes on: E-based only, warned
    assert res["g_based"].startswith("skipped") and "acc" not in res and "e_acc" in res
    assert "G-based evaluation skipped" in capsys.readouterr().err
    cars = load_config(os.path.join(REPO, "3D-Cars", "param.yml"))
    with pytest.raises(UserError, match="classifies coil20, not cars"):
        load_classifier(coil_classifier, cars)
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something else"}, bad)
    with pytest.raises(UserError, match="not a classifier file"):
        load_classifier(str(bad), cfg)
