"""MAML: exact second-order gradients on a quadratic, the first-order variant, the prototype
task loss, episodes, and the meta pre-training command."""

import os

import pytest
import torch
from modes_util import FASHION, fashion_cfg, make_tiny
from torch import nn
from torch.func import functional_call

from codegan.errors import UserError
from codegan.pretraining.maml import (MetaPretrainer, adapt, proto_logits, proto_loss,
                                      sample_episode, task_loss)


class Quadratic(nn.Module):
    """A 'model' with one parameter vector w; the tasks below are quadratic in w."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, _):
        return self.w


def quad_problem(seed=0, d=3):
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(d, d, generator=g, dtype=torch.float64)
    A = m @ m.T + torch.eye(d, dtype=torch.float64)  # symmetric positive definite
    b, t, w = (torch.randn(d, generator=g, dtype=torch.float64) for _ in range(3))
    return A, b, t, w


def maml_grad(A, b, t, w, lr, steps, first_order):
    """Gradient of the outer loss 0.5 ||w_T - t||^2 w.r.t. w, where w_T = ``steps`` inner SGD
    steps on 0.5 w^T A w - b^T w, computed by ``adapt`` through torch.func.functional_call."""
    model = Quadratic(w)
    params = dict(model.named_parameters())

    def inner(p):
        v = functional_call(model, p, (None,))
        return 0.5 * v @ A @ v - b @ v

    adapted = adapt(params, inner, steps, lr, first_order)
    outer = 0.5 * (functional_call(model, adapted, (None,)) - t).pow(2).sum()
    outer.backward()
    return model.w.grad, adapted["w"].detach()


@pytest.mark.parametrize("steps", [1, 2])
def test_second_order_gradient_matches_the_hand_computed_one(steps):
    A, b, t, w = quad_problem()
    lr = 0.1
    # by hand: each inner step is w <- (I - lr A) w + lr b, so dw_T/dw = (I - lr A)^T, T times,
    # and the outer gradient is ((I - lr A)^T)^T_steps (w_T - t)
    J = torch.eye(3, dtype=torch.float64) - lr * A
    w_T = w.clone()
    for _ in range(steps):
        w_T = J @ w_T + lr * b
    want = torch.linalg.matrix_power(J, steps).T @ (w_T - t)
    got, adapted = maml_grad(A, b, t, w, lr, steps, first_order=False)
    assert torch.allclose(adapted, w_T, atol=1e-12)
    assert torch.allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 2])
def test_first_order_drops_the_second_order_term(steps):
    A, b, t, w = quad_problem(seed=1)
    lr = 0.1
    fo, adapted = maml_grad(A, b, t, w, lr, steps, first_order=True)
    so, _ = maml_grad(A, b, t, w, lr, steps, first_order=False)
    # first order: dw_T/dw taken as I, so the gradient is the outer gradient at w_T itself
    assert torch.allclose(fo, adapted - t, atol=1e-12)
    # and the difference is exactly the dropped Hessian term: (I - (I - lr A)^T..) (w_T - t)
    J = torch.eye(3, dtype=torch.float64) - lr * A
    dropped = (torch.eye(3, dtype=torch.float64) - torch.linalg.matrix_power(J, steps).T) \
        @ (adapted - t)
    assert torch.allclose(fo - so, dropped, atol=1e-12)
    assert (fo - so).abs().max() > 1e-3  # the term is not negligible here


def test_proto_logits_equal_a_direct_computation():
    g = torch.Generator().manual_seed(0)
    fs, fq = torch.randn(6, 4, generator=g), torch.randn(5, 4, generator=g)
    ys = torch.tensor([0, 1, 2, 0, 1, 2])
    got = proto_logits(fs, ys, fq, 3, temp=0.5)
    for q in range(5):
        for k in range(3):
            p = fs[ys == k].mean(0)
            cos = float(fq[q] @ p / (fq[q].norm() * p.norm()))
            assert float(got[q, k]) == pytest.approx(cos / 0.5, rel=1e-5, abs=1e-5)
    yq = torch.tensor([0, 1, 2, 0, 1])
    want = -torch.log_softmax(got, 1)[torch.arange(5), yq].mean()
    assert float(proto_loss(fs, ys, fq, yq, 3, 0.5)) == pytest.approx(float(want), rel=1e-6)


def test_episodes_are_n_way_k_shot_from_the_subset_without_overlap():
    by_class = [torch.arange(10 * k, 10 * k + 10) for k in range(10)]  # class k: 10k..10k+9
    g = torch.Generator().manual_seed(3)
    s, ys, q, yq = sample_episode(by_class, n_way=5, k_shot=2, n_query=3, generator=g)
    assert len(s) == 10 and len(q) == 15
    assert not set(s.tolist()) & set(q.tolist()) and len(set(s.tolist() + q.tolist())) == 25
    assert torch.equal(torch.bincount(ys), torch.full((5,), 2))
    assert torch.equal(torch.bincount(yq), torch.full((5,), 3))
    true_s, true_q = s // 10, q // 10  # the true class of each picked image
    classes = {int(true_s[ys == j][0]) for j in range(5)}
    assert len(classes) == 5
    for j in range(5):  # one episode label = one true class, in support and query alike
        assert len(set(true_s[ys == j].tolist()) | set(true_q[yq == j].tolist())) == 1
    g2 = torch.Generator().manual_seed(3)
    assert torch.equal(sample_episode(by_class, 5, 2, 3, generator=g2)[0], s)
    with pytest.raises(UserError, match="per class"):
        sample_episode(by_class, 5, 6, 5)
    with pytest.raises(UserError, match="meta_n_way"):
        sample_episode(by_class, 11, 1, 1)


def test_first_order_task_gradient_is_the_query_gradient_at_the_adapted_weights():
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4))
    xs, xq = torch.randn(6, 6), torch.randn(9, 6)
    ys, yq = torch.tensor([0, 1, 2] * 2), torch.tensor([0, 1, 2] * 3)

    def feat(p, x):
        return functional_call(enc, p, (x,))

    params = dict(enc.named_parameters())
    grads = {}
    for fo in (True, False):
        enc.zero_grad()
        task_loss(feat, params, xs, ys, xq, yq, 3, 0.5, 2, 0.3, first_order=fo).backward()
        grads[fo] = [p.grad.clone() for p in enc.parameters()]
    # by hand: two SGD steps on the support loss, then the query loss's gradient there
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    for _ in range(2):
        f = feat(p, xs)
        g = torch.autograd.grad(proto_loss(f, ys, f, ys, 3, 0.5), list(p.values()))
        p = {k: (v - 0.3 * gi).detach().requires_grad_(True) for (k, v), gi in zip(p.items(), g)}
    outer = proto_loss(feat(p, xs), ys, feat(p, xq), yq, 3, 0.5)
    want = torch.autograd.grad(outer, list(p.values()))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads[True], want))
    assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(grads[False], want))


def test_meta_pretraining_saves_weights_and_its_labelled_subset(tmp_path):
    from codegan.data.fewlabel import select_labelled
    from codegan.training.loop import Trainer

    data = make_tiny(tmp_path / "data")
    weights = str(tmp_path / "maml.pt")
    cfg = fashion_cfg(data, tmp_path / "runs", meta_path=weights)
    m = MetaPretrainer(cfg, FASHION)
    before = {k: v.clone() for k, v in m.enc.state_dict().items()}
    res = m.run()
    assert 0 <= res["nmi"] <= 1 + 1e-9
    blob = torch.load(weights, weights_only=True)
    assert blob["format"] == "codegan-pretrained-E_c" and blob["kind"] == "maml"
    want = select_labelled(m.train_y, cfg.n_labels, 10, cfg.label_seed)
    assert torch.equal(blob["labelled_indices"], want)
    assert os.path.isfile(str(tmp_path / "maml.labels.json"))
    assert any(not torch.equal(before[k], blob["state_dict"][k]) for k in before)
    # meta: true loads exactly these weights (and the same labelled subset is required)
    t = Trainer(cfg.replace(few_labels=True, meta=True, chain_step=1, load_path="scratch"),
                FASHION)
    assert all(torch.equal(v, blob["state_dict"][k]) for k, v in t.nets.E.state_dict().items())
    with pytest.raises(UserError, match="another labelled subset"):
        Trainer(cfg.replace(few_labels=True, meta=True, label_seed=5, load_path="scratch"),
                FASHION)


def test_meta_rejects_episodes_larger_than_the_subset(tmp_path):
    data = make_tiny(tmp_path / "data")
    cfg = fashion_cfg(data, tmp_path, meta_path=str(tmp_path / "m.pt"), meta_k_shot=2,
                      meta_query=1)  # 20 labels: 2 per class, 3 needed
    with pytest.raises(UserError, match="meta_k_shot \\+ meta_query"):
        MetaPretrainer(cfg, FASHION)
