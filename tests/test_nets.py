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


def test_only_a_method_that_trains_the_encoders_gets_them(tmp_path):
    """A baseline's networks are G, D and its heads: the folder's encoders are never built, so
    its heads draw their weights from the seed right after D's (InfoGAN's Q equals a Q drawn
    after a folder built without encoders), while CoDeGAN and ConGAN get the folder's
    encoders. A models.py whose build_nets has no ``encoders`` argument still works."""
    from codegan.methods import METHODS, build_method_nets
    from codegan.nets.heads import QHead

    folder = os.path.join(REPO, "MNIST")
    cfg = load_config(os.path.join(folder, "param.yml"), overrides={"method": "infogan"})
    torch.manual_seed(5)
    nets = build_method_nets(folder, cfg)
    assert nets.shared is None and not hasattr(nets, "E") and not hasattr(nets, "E_c")
    torch.manual_seed(5)
    ref = load_models(folder).build_nets(cfg, encoders=False)
    q = QHead(ref.D.feature_dim, cfg.zc_dim, cfg.info_cont_dim)
    for a, b in zip(nets.Q.state_dict().values(), q.state_dict().values()):
        assert torch.equal(a, b)
    assert [name for name, m in METHODS.items() if m.folder_encoders] == ["codegan", "congan"]
    assert build_method_nets(folder, load_config(os.path.join(folder, "param.yml"))).shared

    # a models.py written before the argument still serves every method
    (tmp_path / "models.py").write_text(
        "from codegan.nets.infogan import build_nets as b\n\n"
        "def build_nets(cfg):\n    return b(cfg)\n")
    assert build_method_nets(str(tmp_path), cfg).shared is None
    assert load_models(str(tmp_path)).build_nets(cfg).shared
