"""InfoGAN-CR's dSprites inception score (codegan.evaluation.dsprites_is): the scores on
hand-computed probabilities, the shape classifier learning shapes on a small rendered fixture,
its file reused and never overwritten, and G's prior samples scored through it."""

import math
import os
import types

import numpy as np
import pytest
import scipy.stats
import torch

from codegan.data import dsprites as D
from codegan.errors import UserError
from codegan.evaluation import dsprites_is as DI

LOG3 = math.log(3)


# --- the scores -------------------------------------------------------------------------------

def test_confident_predictions_spread_evenly_score_3():
    p = np.eye(3)[np.arange(300) % 3]
    r = DI.score_probs(p)
    assert r["shape_is"] == pytest.approx(3) and r["is_log_std"] == pytest.approx(0, abs=1e-12)
    assert r["confidence"] == 1 and r["mode_kl"] == pytest.approx(0, abs=1e-12)
    assert r["mode_counts"] == [100, 100, 100]


def test_one_shape_only_scores_1_and_mode_kl_log3():
    r = DI.score_probs(np.tile([0.0, 0.0, 1.0], (50, 1)))  # every sample a confident heart
    assert r["shape_is"] == pytest.approx(1) and r["confidence"] == 1
    assert r["mode_kl"] == pytest.approx(LOG3) and r["mode_counts"] == [0, 0, 50]
    r = DI.score_probs(np.full((20, 3), 1 / 3))  # no opinion at all: ties go to the first shape
    assert r["shape_is"] == pytest.approx(1) and r["confidence"] == pytest.approx(1 / 3)
    assert r["mode_kl"] == pytest.approx(LOG3)


def test_a_mixed_case_by_hand():
    # p(y) = (0.4, 0.4, 0.2); KL of the two confident rows log(1/0.4) each, of the third
    # 2 * 0.2 log(0.2/0.4) + 0.6 log(0.6/0.2); one argmax per shape: mode KL 0
    p = np.array([[1, 0, 0], [0, 1, 0], [0.2, 0.2, 0.6]])
    kl = np.array([math.log(2.5), math.log(2.5), 0.4 * math.log(0.5) + 0.6 * math.log(3)])
    r = DI.score_probs(p)
    assert r["shape_is"] == pytest.approx(math.exp(kl.mean()), rel=1e-12)
    assert r["is_log_std"] == pytest.approx(kl.std(), rel=1e-12)
    assert r["confidence"] == pytest.approx(2.6 / 3) and r["mode_kl"] == pytest.approx(0)
    # argmax counts (2, 1, 0): KL((2/3, 1/3, 0) || uniform) = 2/3 log 2
    r = DI.score_probs(np.array([[0.9, 0.1, 0], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]]))
    assert r["mode_counts"] == [2, 1, 0] and r["mode_kl"] == pytest.approx(2 / 3 * math.log(2))


def test_scores_equal_scipy_entropy_per_row_as_infogan_cr_computes_them():
    p = np.random.default_rng(0).dirichlet([0.3, 0.5, 1.0], size=400)
    marginal = p.mean(0)
    kl = np.array([scipy.stats.entropy(row, marginal) for row in p])
    r = DI.score_probs(p)
    assert r["shape_is"] == pytest.approx(np.exp(kl.mean()), rel=1e-12)
    assert r["is_log_std"] == pytest.approx(kl.std(), rel=1e-12)


def test_bad_probabilities_are_refused():
    with pytest.raises(UserError, match=r"\(N, 3\)"):
        DI.score_probs(np.ones((4, 2)) / 2)
    with pytest.raises(UserError, match="summing to 1"):
        DI.score_probs(np.ones((4, 3)))


# --- the classifier ---------------------------------------------------------------------------

def easy_sprites(n, seed):
    """Rendered dSprites of the largest scale, upright, near the centre: (n, 64, 64) uint8 in
    {0, 1} and their shapes (n,), the shapes in turn."""
    r = np.random.default_rng(seed)
    cls = np.stack([np.zeros(n, int), np.arange(n) % 3, np.full(n, 5), np.zeros(n, int),
                    r.integers(8, 24, n), r.integers(8, 24, n)], 1)
    return D.render(np.ravel_multi_index(cls.T, D.SIZES)), cls[:, 1]


@pytest.fixture(scope="module")
def trained():
    x, y = easy_sprites(192, 0)
    model, info = DI.train_classifier(x, y, epochs=6, batch_size=32, seed=0)
    return model, info


def test_the_network_is_infogan_cr_shape_classifier():
    m = DI.ShapeClassifier()
    convs = [c for c in m.modules() if isinstance(c, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert sum(isinstance(b, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)) for b in m.modules()) == 5
    assert m(torch.zeros(2, 1, 64, 64)).shape == (2, 3)
    assert float(convs[0].weight.detach().abs().max()) <= 0.04  # truncated at 2 std


def test_classifier_learns_the_shapes_of_unseen_sprites(trained):
    model, info = trained
    assert info["steps"] == 6 * (192 // 32) and info["train_loss"] < 0.2
    xt, yt = easy_sprites(300, 1)  # other positions than the training images'
    assert (DI.predict(model, xt).argmax(1) == yt).mean() >= 0.9


def test_prior_samples_are_scored_through_the_classifier(trained):
    """A stand-in G drawing sprite c for class code c: a G that covers the three shapes
    evenly and clearly scores near 3, with mode KL near 0; one that draws one shape scores 1."""
    model, _ = trained
    bank = torch.from_numpy(easy_sprites(3, 7)[0]).float()[:, None]  # one sprite per shape

    class G(torch.nn.Module):
        def __init__(self, fixed=None):
            super().__init__()
            self.fixed = fixed
            self.seen = []  # the latents of each call

        def forward(self, z, c):
            self.seen.append((z, c))
            return bank[c if self.fixed is None else torch.full_like(c, self.fixed)]

    cfg = types.SimpleNamespace(dataset="dsprites", zn_dim=4, zc_dim=3, z_prior="normal",
                                z_scale=1.0)
    g64 = G()
    r = DI.score_generator(g64, cfg, model, {"accuracy": 0.99, "real_is": 2.9}, n=150, batch=64)
    assert r["shape_is"] > 2.7 and r["mode_kl"] < 0.01 and r["n"] == 150
    assert r["classifier_accuracy"] == 0.99 and r["real_is"] == 2.9
    assert "prior samples" in DI.format_scores(r)
    one = DI.score_generator(G(fixed=2), cfg, model, n=90)
    assert one["shape_is"] == pytest.approx(1) and one["mode_kl"] == pytest.approx(LOG3, abs=1e-3)
    # the same seed draws the same latents whatever the batch size: bit for bit
    g7 = G()
    again = DI.score_generator(g7, cfg, model, n=150, batch=7)
    assert [len(c) for _, c in g64.seen] == [64, 64, 22] and len(g7.seen) == 22
    for i in (0, 1):
        assert torch.equal(torch.cat([s[i] for s in g7.seen]), torch.cat([s[i] for s in g64.seen]))
    # and the same score up to float32 rounding: the classifier's convolutions run at another
    # batch size, where oneDNN may pick other kernels (another summation order; 1e-9 apart on
    # an AMX CPU). Logits of size ~10 from float32 sums of up to 1,024 terms move by well under
    # 1e-5, and the IS moves by at most about that relative amount
    assert again["shape_is"] == pytest.approx(r["shape_is"], rel=1e-5)


# --- the file ---------------------------------------------------------------------------------

def write_data(root, n=96):
    """A dSprites npz (the easy sprites) under the official file name."""
    r = np.random.default_rng(3)
    cls = np.stack([np.zeros(n, int), np.arange(n) % 3, np.full(n, 5), np.zeros(n, int),
                    r.integers(8, 24, n), r.integers(8, 24, n)], 1)
    x = D.render(np.ravel_multi_index(cls.T, D.SIZES))
    os.makedirs(root, exist_ok=True)
    np.savez(os.path.join(root, D.FILENAME), imgs=x, latents_values=D.values_of(cls),
             latents_classes=cls, metadata=np.array(D.metadata(), dtype=object))
    return str(root)


def test_classifier_file_is_trained_once_then_reused_never_overwritten(tmp_path):
    root = write_data(tmp_path / "data")
    path = str(tmp_path / "pretrained" / "shape.pt")
    lines = []
    model, rec = DI.load_or_train(path, root, progress=False, log=lines.append, epochs=1,
                                  batch_size=32)
    assert os.path.isfile(path) and "training one" in lines[0] and "wrote" in lines[1]
    assert rec["trained_on"]["images"] == 96 and not rec["trained_on"]["full_grid"]
    assert rec["trained_on"]["rerendered"] and rec["n_check"] == 96
    assert 0 <= rec["accuracy"] <= 1 and 1 <= rec["real_is"] <= 3
    stamp = os.stat(path).st_mtime_ns
    # present: loaded as it is, even without any data and with other training options
    again, rec2 = DI.load_or_train(path, str(tmp_path / "nowhere"), log=lines.append, epochs=9)
    assert os.stat(path).st_mtime_ns == stamp and len(lines) == 2
    assert rec2["accuracy"] == rec["accuracy"] and rec2["options"]["epochs"] == 1
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a.cpu(), b)
    with pytest.raises(UserError, match="not overwritten"):  # the command refuses it too
        DI.main([f"--out={path}", f"--data_root={root}"])
    assert os.stat(path).st_mtime_ns == stamp


def test_foreign_or_missing_files_are_clear_errors(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(UserError, match="not a dSprites shape-classifier file"):
        DI.load_or_train(str(other))
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a readable shape-classifier file"):
        DI.load_classifier(str(tmp_path / "junk.pt"))
    with pytest.raises(UserError, match=D.FILENAME):  # no file and no data to train on
        DI.load_or_train(str(tmp_path / "new.pt"), str(tmp_path / "empty"))
    assert not os.path.exists(tmp_path / "new.pt")
