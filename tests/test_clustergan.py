"""ClusterGAN: what its critic step minimises (one interpolation weight for the whole batch, as
the official code), the features its E-based evaluation reads, and its published budget."""

import copy
import os
from types import SimpleNamespace

import pytest
import torch

from codegan.config import load_config
from codegan.evaluation import compare_report as rep
from codegan.methods.clustergan import ClusterGAN
from codegan.training.loop import Trainer
from conftest import REPO, TINY

MNIST_DIR = os.path.join(REPO, "MNIST")
FASHION_DIR = os.path.join(REPO, "Fashion-MNIST")
CIFAR_DIR = os.path.join(REPO, "CIFAR-10")


def config(data_root, out, folder=MNIST_DIR, **over):
    return load_config(os.path.join(folder, "param.yml"),
                       {**TINY, "method": "clustergan", "data_root": data_root,
                        "out": str(out), **over})


def flat(grads):
    return torch.cat([g.flatten() for g in grads])


def test_the_critic_step_minimises_wgan_gp_with_one_interpolation_weight_per_batch(
        tiny_data, tmp_path, monkeypatch):
    """The gradient on D of what D's Adam minimises equals, in float64 and computed
    independently, that of D(G) - D(x) + 10 (||grad D(x_hat)|| - 1)^2 with x_hat = eps x +
    (1 - eps) G and ONE eps ~ U(0, 1) for the whole batch (the same draw of the global
    stream). A per-sample eps (a value per image, the first of them this eps) does not."""
    tr = Trainer(config(tiny_data, tmp_path), MNIST_DIR)
    m, loop, nets = tr.method, tr, tr.nets
    G64, D64 = copy.deepcopy(nets.G).double(), copy.deepcopy(nets.D).double()
    mine = list(D64.parameters())
    rng, stream = torch.get_rng_state(), copy.deepcopy(loop.stream.state_dict())

    def by_hand(eps_per_image: bool):
        torch.set_rng_state(rng)
        loop.stream.load_state_dict(copy.deepcopy(stream))
        real = loop.next_real().double()
        z, c = loop.latents(m.cfg.d_batch_size)
        with torch.no_grad():
            fake = G64(z.double(), c)
        n = len(real) if eps_per_image else 1
        eps = torch.rand(n, 1, 1, 1).double()  # the float32 draw, as the step's
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (g,) = torch.autograd.grad(D64(x_hat).sum(), x_hat, create_graph=True)
        gp = ((g.flatten(1).pow(2).sum(1) + 1e-12).sqrt() - 1).pow(2).mean()
        loss = D64(fake).mean() - D64(real).mean() + 10.0 * gp
        return flat(torch.autograd.grad(loss, mine)), gp.detach()

    per_sample, _ = by_hand(True)
    want, gp = by_hand(False)
    torch.set_rng_state(rng)  # the step draws what by_hand drew
    loop.stream.load_state_dict(copy.deepcopy(stream))
    got = {}
    minimize = m.minimize

    def spy(name, loss):
        got[name] = flat(torch.autograd.grad(loss, list(nets.D.parameters()),
                                             retain_graph=True))
        minimize(name, loss)

    monkeypatch.setattr(m, "minimize", spy)
    logs = m.d_step()
    assert set(got) == {"D"} and m.cfg.gp_weight == 10.0
    err = float((got["D"].double() - want).norm() / want.norm())
    assert err < 1e-4, err
    assert float((per_sample - want).norm() / want.norm()) > 100 * err  # the test can tell
    assert abs(float(logs["D/gp"]) - float(gp)) <= 1e-4 * max(1.0, float(gp))


@pytest.mark.parametrize("beta_n", [10.0, 0.0])
def test_the_evaluation_reads_z_n_and_the_class_softmax_or_the_softmax_alone(beta_n):
    """k-means features of E(x): [z_n_hat, softmax(logits)]; with beta_n 0 (z_n untrained,
    the official Fashion-MNIST setting) softmax(logits) alone (Image_ClusterGAN.py:233-241)."""
    torch.manual_seed(0)
    zn = torch.randn(6, 4) * 3
    logits = torch.randn(6, 10) * 2
    E = torch.nn.Identity()
    enc, read = ClusterGAN.eval_encoder(SimpleNamespace(E=E), SimpleNamespace(beta_n=beta_n,
                                                                             zc_dim=10))
    assert enc is E
    feats = read((zn, logits))
    p = torch.exp(logits.double())
    p = p / p.sum(1, keepdim=True)
    want = torch.cat([zn.double(), p], 1) if beta_n > 0 else p
    assert feats.shape == want.shape
    assert torch.allclose(feats.double(), want, atol=1e-6)
    assert ClusterGAN.class_head  # the last K features are the class head's softmax


def test_the_published_budget_is_500000_g_e_steps_on_mnist_and_fashion_mnist(tiny_data,
                                                                               tmp_path):
    """Image_ClusterGAN.py: 500,000 G/E steps of 5 critic steps at batch 64 = 2,500,000 critic
    steps, our iterations: 2,669 epochs of 60,000 // 64 = 937, and the comparison's budget line
    states ClusterGAN's fraction of it beside CoDeGAN's."""
    for folder in (MNIST_DIR, FASHION_DIR):
        c = load_config(os.path.join(folder, "param.yml"), {"method": "clustergan"})
        ipe = 60000 // c.d_batch_size
        assert (c.max_step, c.d_batch_size, c.g_batch_size, c.critic) == (2669, 64, 64, 5)
        assert 2_500_000 <= c.max_step * ipe < 2_500_000 + ipe
        assert c.max_step * ipe // c.critic >= 499_000  # the G/E steps (the count restarts
        # every epoch: 187 per 937 critic steps)
    # elsewhere the authors published no budget: CoDeGAN's schedule
    cifar = load_config(os.path.join(CIFAR_DIR, "param.yml"), {"method": "clustergan"})
    assert cifar.max_step == load_config(os.path.join(CIFAR_DIR, "param.yml"), {}).max_step
    # the schedules as codegan.compare reads them: param.yml with each method's published values
    sched = {}
    for m in ("codegan", "clustergan"):
        c = load_config(os.path.join(MNIST_DIR, "param.yml"), {"method": m})
        sched[m] = (c.max_step, 60000 // c.d_batch_size)
    line = rep.budget_line(25_000, sched, sched["codegan"], "MNIST/param.yml")
    assert "6.67% of CoDeGAN's schedule (codegan: max_step 400 epochs" in line
    assert ("1% of the schedule clustergan's authors published for this dataset (clustergan: "
            "max_step 2669 epochs x 937 iterations per epoch = 2,500,853 iterations)") in line
