import os

import torch

from codegan.config import load_config
from codegan.nets import Nets
from codegan.folders import load_models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_mnist_sized_networks_shapes_and_ranges():
    for folder, zn in (("MNIST", 30), ("Fashion-MNIST", 40)):
        cfg = load_config(os.path.join(REPO, folder, "param.yml"))
        nets = load_models(os.path.join(REPO, folder)).build_nets(cfg)
        assert isinstance(nets, Nets) and nets.shared
        z, c = torch.randn(6, zn), torch.randint(0, 10, (6,))
        x = nets.G(z, c)
        assert x.shape == (6, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
        assert nets.D(x).shape == (6,)
        z_hat, f = nets.E(x)
        assert z_hat.shape == (6, zn) and f.shape == (6, cfg.fc_dim)
        torch.testing.assert_close(f.norm(dim=1), torch.ones(6))
        assert torch.equal(nets.enc_c(x), f) and torch.equal(nets.enc_z(x), z_hat)


def test_generator_depends_on_code():
    cfg = load_config(os.path.join(REPO, "MNIST", "param.yml"))
    G = load_models(os.path.join(REPO, "MNIST")).build_nets(cfg).G.eval()
    z = torch.randn(2, 30)
    a, b = G(z, torch.tensor([0, 0])), G(z, torch.tensor([1, 1]))
    assert (a - b).abs().max() > 1e-4
