"""The G-based protocol and its classifier (codegan/evaluation/g_based.py,
codegan/evaluation/classifier.py)."""

import inspect
import os

import numpy as np
import pytest
import torch

from codegan.evaluation.classifier import (classifier_file, heldout_mask, load_classifier,
                                           main as train_classifier_main, save_classifier,
                                           train_classifier)
from codegan.config import SCHEMA, load_config, validate
from codegan.errors import UserError
from codegan.evaluation.g_based import evaluate_g_based, generate_per_code, score_outputs
from codegan.metrics import CLUSTERING_METRICS
from codegan.nets.resnet import ResNetClassifier
from codegan.folders import load_models
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
        "classifier_arch": "resnet18", "g_eval_per_class": 3, "kmeans_runs": 1,
        "eval_batch_size": 64})
    model, info = load_classifier(coil_classifier, cfg)
    assert (info["n_train"], info["n_heldout"]) == (20, 20)  # pose 1 of each object held out
    assert info["arch"] == model.arch == "resnet18"  # train_classifier.py took --classifier_arch
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
    off = evaluate_g_based(nets, validate({**cfg.to_dict(), "g_eval_e_based": False}), {},
                           "cpu")  # the G-based scores alone, the same; no real image read
    assert not any(k.startswith("e_") for k in off) and off["acc"] == res["acc"]
    assert "E-based numbers not computed (g_eval_e_based: false)" in off["protocol"]
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


def test_classifier_arch_default_and_path_follow_the_official_resnet50(tmp_path):
    # official COIL-20/solver.py: self.Classifier = Classifier() -> name='resnet50' (Encoder.py)
    assert SCHEMA["classifier_arch"].default == "resnet50"
    assert SCHEMA["classifier_path"].default is None
    assert SCHEMA["g_eval_features"].default == "logits"
    for folder in ("COIL-20", "3D-Chairs", "3D-Cars"):
        cfg = load_config(os.path.join(REPO, folder, "param.yml"))
        assert (cfg.classifier_arch, cfg.g_eval_features) == ("resnet50", "logits"), folder
        # null path: the file is named after the arch, so a ResNet-18 file is never the default
        assert classifier_file(cfg) == os.path.join(REPO, folder, "classifier", "resnet50.pt")
        small = cfg.replace(classifier_arch="resnet18")
        assert classifier_file(small) == os.path.join(REPO, folder, "classifier", "resnet18.pt")
    explicit = cfg.replace(classifier_path="old/resnet18.pt")  # explicit paths are kept
    assert classifier_file(explicit) == os.path.join(REPO, "3D-Cars", "old", "resnet18.pt")
    assert classifier_file(cfg.replace(classifier_path=str(tmp_path / "c.pt"))) == \
        str(tmp_path / "c.pt")
    # train_classifier trains a ResNet-50 unless told otherwise (train_classifier.py passes
    # classifier_arch: see the coil_classifier fixture, a resnet18 file)
    assert inspect.signature(train_classifier).parameters["arch"].default == "resnet50"


def test_a_classifier_file_of_another_arch_is_refused(coil_subset, coil_classifier, tmp_path):
    root = coil_subset[0]
    cfg = load_config(os.path.join(COIL, "param.yml"), {"data_root": root, "device": "cpu"})
    assert cfg.classifier_arch == "resnet50"
    with pytest.raises(UserError) as e:  # the fixture's file is a ResNet-18
        load_classifier(coil_classifier, cfg)
    msg = str(e.value)
    for part in ("ResNet-18", "resnet18", "classifier_arch is resnet50",
                 "classifier_arch: resnet18", "--classifier_arch=resnet50", "train_classifier.py"):
        assert part in msg, part
    # a file written before the arch was recorded holds a ResNet-18: refused for resnet50,
    # loaded for resnet18
    blob = torch.load(coil_classifier, weights_only=False)
    del blob["arch"]
    legacy = str(tmp_path / "legacy.pt")
    torch.save(blob, legacy)
    with pytest.raises(UserError, match="classifier_arch is resnet50"):
        load_classifier(legacy, cfg)
    model, info = load_classifier(legacy, cfg.replace(classifier_arch="resnet18"))
    assert model.arch == info["arch"] == "resnet18"
    # and the other way round: a ResNet-50 file is refused for resnet18, loaded for resnet50
    big = str(tmp_path / "resnet50.pt")
    save_classifier(big, ResNetClassifier(1, 20, "resnet50"), cfg, {"heldout_acc": 0.5})
    with pytest.raises(UserError, match="holds a ResNet-50 classifier .resnet50., but "
                                        "classifier_arch is resnet18"):
        load_classifier(big, cfg.replace(classifier_arch="resnet18"))
    model, info = load_classifier(big, cfg)
    assert model.arch == "resnet50" and info["heldout_acc"] == 0.5 and not model.training
    # the evaluation skips the G-based part with that message instead of stopping training
    data = {"dataset_dir": str(tmp_path)}
    res = evaluate_g_based(load_models(COIL).build_nets(cfg.replace(
        classifier_path=coil_classifier, g_eval_per_class=1, kmeans_runs=1)),
        cfg.replace(classifier_path=coil_classifier, g_eval_per_class=1, kmeans_runs=1), data,
        "cpu")
    assert res["g_based"].startswith("skipped") and "classifier_arch is resnet50" in res["g_based"]


class _CodeAndNuisanceG(torch.nn.Module):
    """A stub G whose image carries its code c (pixel 0) and a nuisance class b = argmax of the
    first K noise values (pixel 1)."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, z, c):
        b = z[:, :self.k].argmax(1)
        return torch.stack([c.float(), b.float()], 1).view(-1, 1, 1, 2)


class _OffsetClassifier(torch.nn.Module):
    """A stub classifier: logits = 100 c (on every class) + onehot(b). Its logits cluster by the
    code c; its softmax (blind to a per-row offset) and its argmax only see the nuisance b."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        c, b = x[:, 0, 0, 0], x[:, 0, 0, 1].long()
        return 100.0 * c[:, None] + torch.nn.functional.one_hot(b, self.k).float()


def test_kmeans_clusters_the_raw_logits_as_the_official_code(monkeypatch):
    # official COIL-20/test_acc.py: prof = C(G(z)); features.append(prof.data);
    # KMeans(n_clusters=num_class, random_state=0).fit_predict(features): the raw logits
    import types

    import codegan.evaluation.e_based

    monkeypatch.setattr(codegan.evaluation.e_based, "evaluate_e_based", lambda *a, **k: {
        m: 0.0 for m in CLUSTERING_METRICS})  # the E-based part is tested elsewhere
    k = 20
    cfg = load_config(os.path.join(COIL, "param.yml"), {
        "device": "cpu", "g_eval_per_class": 20, "kmeans_runs": 2})
    nets = types.SimpleNamespace(G=_CodeAndNuisanceG(k))

    def run(cfg):
        data = {"classifier": _OffsetClassifier(k), "real_x": [], "real_y": [],
                "classifier_info": {"heldout_acc": 1.0, "path": "stub", "arch": "resnet50"}}
        return evaluate_g_based(nets, cfg, data, "cpu")

    x, codes = generate_per_code(nets.G, 20, cfg.zn_dim, k, "cpu", cfg.seed)
    b = x[:, 0, 0, 1].long().numpy()
    assert len(set(b)) == k  # every nuisance class occurs: softmax k-means finds exactly b
    by_b = {m: float(fn(codes.numpy(), b)) for m, fn in CLUSTERING_METRICS.items()}
    assert by_b["acc"] < 0.3  # b says little about c

    res = run(cfg)  # default: k-means on the logits recovers every code
    for m in ("acc", "acc_purity", "nmi", "ari"):
        assert res[m] == pytest.approx(1.0), m
        assert res["argmax_" + m] == pytest.approx(by_b[m]), m  # argmax sees only b
    assert "kmeans on its logits" in res["protocol"]

    soft = run(cfg.replace(g_eval_features="softmax"))  # the earlier choice: clusters b
    for m in ("acc", "acc_purity", "nmi", "ari"):
        assert soft[m] == pytest.approx(by_b[m]), m
        assert soft["argmax_" + m] == res["argmax_" + m]  # argmax is the same either way
    assert "kmeans on its softmax" in soft["protocol"]
