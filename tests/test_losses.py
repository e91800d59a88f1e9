import math

import torch
import torch.nn.functional as F

from codegan.methods.losses import d_loss, g_loss, gradient_penalty, lz_loss, supcon_loss


def supcon_by_definition(f, y, temp):
    """SupCon 'all' anchors, written as the paper's formula with plain loops."""
    m = len(y)
    total, anchors = 0.0, 0
    for i in range(m):
        pos = [p for p in range(m) if p != i and y[p] == y[i]]
        if not pos:
            continue
        denom = sum(math.exp(float(f[i] @ f[a]) / temp) for a in range(m) if a != i)
        li = -sum(math.log(math.exp(float(f[i] @ f[p]) / temp) / denom) for p in pos) / len(pos)
        total += li
        anchors += 1
    return total / anchors


def test_supcon_matches_definition_with_labelled_reals_and_singleton_class():
    g = torch.Generator().manual_seed(0)
    n, d = 6, 5
    fakes = F.normalize(torch.randn(2 * n, d, generator=g, dtype=torch.float64), dim=1)
    c = torch.tensor([0, 1, 2, 0, 1, 3])
    # labelled real images and their views, plus one real image of a class seen nowhere else
    reals = F.normalize(torch.randn(5, d, generator=g, dtype=torch.float64), dim=1)
    yr = torch.tensor([0, 2, 0, 2, 7])
    feats = torch.cat([fakes, reals])
    labels = torch.cat([c, c, yr])
    for temp in (0.07, 0.5):
        got = float(supcon_loss(feats, labels, temp))
        assert abs(got - supcon_by_definition(feats, labels, temp)) < 1e-9


def test_supcon_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    assert torch.autograd.gradcheck(lambda t: supcon_loss(F.normalize(t, dim=1), y, 0.3), (x,))


def test_supcon_prefers_clustered_features():
    y = torch.tensor([0, 0, 1, 1])
    together = F.normalize(torch.tensor([[1.0, 0], [1, 0.01], [0, 1], [0.01, 1]]), dim=1)
    apart = F.normalize(torch.tensor([[1.0, 0], [0, 1], [1, 0.01], [0.01, 1]]), dim=1)
    assert supcon_loss(together, y, 0.1) < supcon_loss(apart, y, 0.1)


class Linear(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = w

    def forward(self, x):
        return x.flatten(1) @ self.w.flatten()


def test_gradient_penalty_zero_for_unit_norm_linear_critic_positive_otherwise():
    torch.manual_seed(0)
    real, fake = torch.randn(16, 1, 4, 4), torch.randn(16, 1, 4, 4)
    w = torch.randn(16)
    unit = Linear(w / w.norm())
    assert float(gradient_penalty(unit, real, fake)) < 1e-10
    assert abs(float(gradient_penalty(Linear(3 * w / w.norm()), real, fake)) - 4.0) < 1e-5
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.Tanh(),
                              torch.nn.Linear(8, 1))
    gp = gradient_penalty(lambda x: mlp(x).squeeze(1), real, fake)
    assert float(gp.detach()) > 0
    gp.backward()  # the penalty trains the critic: its parameters get gradients
    assert mlp[1].weight.grad is not None and mlp[1].weight.grad.abs().sum() > 0


def test_adversarial_losses_known_values():
    d_real, d_fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert float(d_loss("wgan-gp", d_real, d_fake)) == -2.25  # mean(fake) - mean(real)
    # hinge: relu(1 - real) = [0, 0.5], relu(1 + fake) = [0, 1]
    assert float(d_loss("hinge", d_real, d_fake)) == 0.25 + 0.5
    assert float(g_loss(d_fake)) == 1.0


def test_lz_is_mse():
    z, zh = torch.zeros(3, 2), torch.ones(3, 2) * 2
    assert float(lz_loss(zh, z)) == 4.0
