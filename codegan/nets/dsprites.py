"""The dSprites networks of the official CoDeGAN first upload (``dSprites/model.py`` at 348d046),
which are InfoGAN-CR's dSprites networks (its official code) with CoDeGAN's encoder.

- G: concat(z, onehot(c)) -> FC 128 -> FC 64*4*4 -> ConvT 64 (8x8) -> ConvT 32 (16x16) ->
  ConvT 32 (32x32) -> ConvT 1 (64x64) -> sigmoid (binary images in [0, 1]). Every hidden layer is
  followed by ReLU and THEN BatchNorm (the official order, as InfoGAN-CR's); all ConvT 4x4 s2 p1.
- D: spectral norm on every layer, no normalisation: conv 4x4 s2 32, 32, 64, 64 (LeakyReLU 0.1)
  -> FC 128 (LeakyReLU 0.1) -> FC 1. It returns the logit; the official D ends in a sigmoid
  under ``nn.BCELoss``, which is the same loss as ``gan_loss: ns`` on the logit.
- E (one shared trunk, ``Nets.E``): D's spectral-norm conv trunk -> FC 128 -> FC 128 (LeakyReLU
  0.1) -> FC (zn_dim + fc_dim); ``(z_hat, f_c)`` = the first zn_dim outputs and the L2-normalised
  rest (the official ``fz_dim`` equals ``zn_dim``).

InfoGAN-CR's own dSprites networks (fjxmlzn/InfoGAN-CR ``InfoGAN-CR_dSprites/gan/network.py``,
``op.py``) differ from these in four places, so they are built here too (``infogan_cr_nets``, used
by ``--method=infogan|infogan-cr`` on dSprites with ``infogan_cr_nets: true``, their published
dSprites setting): G's three hidden transposed convolutions use LeakyReLU 0.2 (not ReLU) before
BatchNorm; D's LeakyReLU slope is 0.2 (not 0.1); weights start N(0, 0.02) (conv weights from a
normal truncated at 2 std), biases 0, BatchNorm scale 1; Q is spectral-norm FC 128, LeakyReLU 0.2,
spectral-norm FC to the code means (no BatchNorm); and the CR discriminator H is D's trunk on the
channel-concatenated pair (2C input channels) with a plain (no spectral norm) last linear layer.

Initialisation: the official ``_init: 'pytorch'`` (``pytorch_init``): conv, transposed-conv and
linear weights keep PyTorch's default (Kaiming-uniform, a = sqrt 5), every bias 0, BatchNorm
scale ~ N(1, 0.02) and shift 0. Spectral norm: one power step per forward call in training mode,
in the order ``sn_power_order`` names (``codegan.nets.spectral``; the official
``nn.utils.spectral_norm``'s is ``v_first``). InfoGAN-CR's networks keep ``u_first``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..latent import latent_input
from . import unit_features, with_in_channels
from .spectral import spectral_norm

SLOPE = 0.1  # LeakyReLU slope of the official D and E (InfoGAN-CR's is 0.2)
CR_SLOPE = 0.2  # InfoGAN-CR's LeakyReLU slope (op.py's lrelu), in G, D, Q and H
# InfoGAN-CR's networks: the parametrization's order, as before the order was a setting (its
# TensorFlow code runs its own power step after the training steps, FAITHFULNESS.md)
CR_SN = "u_first"


def official_init(module: nn.Module) -> None:
    """The official ``pytorch_init``: default weights, zero biases, BatchNorm scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def infogan_cr_init(module: nn.Module) -> None:
    """InfoGAN-CR's ``op.py`` start: conv weights N(0, 0.02) truncated at 2 std
    (``truncated_normal_initializer``), linear and transposed-conv weights N(0, 0.02), biases 0,
    BatchNorm scale 1 and shift 0 (``tf.contrib.layers.batch_norm``'s defaults)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.trunc_normal_(m.weight, 0.0, 0.02, -0.04, 0.04)
        elif isinstance(m, (nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(m.weight)
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.modules.batchnorm._BatchNorm)):
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _sn(m: nn.Module, order: str, init=official_init) -> nn.Module:
    init(m)  # before the parametrisation, so the initial weight is the one normalised
    return spectral_norm(m, order)


def conv_trunk(channels: int, order: str, slope: float = SLOPE,
               init=official_init) -> nn.Sequential:
    """The spectral-norm conv trunk of D and E: (n, C, 64, 64) -> (n, 64*4*4); ``order``: the
    power step's (``codegan.nets.spectral.ORDERS``)."""
    layers = []
    for cin, cout in ((channels, 32), (32, 32), (32, 64), (64, 64)):
        layers += [_sn(nn.Conv2d(cin, cout, 4, 2, 1), order, init), nn.LeakyReLU(slope, True)]
    return nn.Sequential(*layers, nn.Flatten())


class Generator(nn.Module):
    """G(z, c) -> (n, channels, 64, 64) in [0, 1] (module docstring). ``infogan_cr``: InfoGAN-CR's
    variant (LeakyReLU 0.2 after the hidden transposed convolutions, its initialisation)."""

    def __init__(self, zn_dim: int, zc_dim: int, channels: int = 1, infogan_cr: bool = False):
        super().__init__()
        self.zc_dim = zc_dim
        self.fc = nn.Sequential(
            nn.Linear(zn_dim + zc_dim, 128), nn.ReLU(True), nn.BatchNorm1d(128),
            nn.Linear(128, 64 * 4 * 4), nn.ReLU(True), nn.BatchNorm1d(64 * 4 * 4))
        layers = []
        for cin, cout in ((64, 64), (64, 32), (32, 32)):
            act = nn.LeakyReLU(CR_SLOPE, True) if infogan_cr else nn.ReLU(True)
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), act, nn.BatchNorm2d(cout)]
        self.deconv = nn.Sequential(*layers, nn.ConvTranspose2d(32, channels, 4, 2, 1))
        (infogan_cr_init if infogan_cr else official_init)(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.fc(latent_input(z, c, self.zc_dim)).view(-1, 64, 4, 4)
        return torch.sigmoid(self.deconv(h))


class Discriminator(nn.Module):
    """D: (n, channels, 64, 64) -> (n,) logits; ``features`` the FC-128 trunk (n, 128).
    ``infogan_cr``: InfoGAN-CR's variant (LeakyReLU 0.2, its initialisation). ``sn``: the
    spectral norm's power-step order."""

    def __init__(self, channels: int = 1, infogan_cr: bool = False, sn: str = "v_first"):
        super().__init__()
        self.init_args = dict(channels=channels, infogan_cr=infogan_cr, sn=sn)
        slope, init = (CR_SLOPE, infogan_cr_init) if infogan_cr else (SLOPE, official_init)
        self.trunk = nn.Sequential(conv_trunk(channels, sn, slope, init),
                                   _sn(nn.Linear(64 * 4 * 4, 128), sn, init),
                                   nn.LeakyReLU(slope, True))
        self.last = _sn(nn.Linear(128, 1), sn, init)
        self.feature_dim = 128

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.last(h).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    with_in_channels = with_in_channels


class SharedEncoder(nn.Module):
    """E: (n, channels, 64, 64) -> ``(z_hat (n, zn_dim), f_c (n, fc_dim) L2-normalised)``.
    ``sn``: the spectral norm's power-step order."""

    def __init__(self, zn_dim: int, fc_dim: int, channels: int = 1, sn: str = "v_first"):
        super().__init__()
        self.zn_dim = zn_dim
        self.net = nn.Sequential(
            conv_trunk(channels, sn),
            _sn(nn.Linear(64 * 4 * 4, 128), sn), nn.LeakyReLU(SLOPE, True),
            _sn(nn.Linear(128, 128), sn), nn.LeakyReLU(SLOPE, True),
            _sn(nn.Linear(128, zn_dim + fc_dim), sn))

    def forward(self, x: torch.Tensor):
        h = self.net(x)
        return h[:, :self.zn_dim], unit_features(h[:, self.zn_dim:])


def build_nets(cfg, channels: int = 1, encoders: bool = True):
    """The official dSprites model: G, D and (with ``encoders``) one shared encoder (``cfg``:
    zn_dim, zc_dim, fc_dim, sn_power_order)."""
    from . import folder_nets

    sn = cfg.sn_power_order
    return folder_nets(Generator(cfg.zn_dim, cfg.zc_dim, channels),
                       Discriminator(channels, sn=sn), encoders,
                       lambda: {"E": SharedEncoder(cfg.zn_dim, cfg.fc_dim, channels, sn)})


class InfoGANCRQ(nn.Module):
    """InfoGAN-CR's Q on D's trunk features (n, 128): spectral-norm FC 128, LeakyReLU 0.2,
    spectral-norm FC to ``zc_dim`` class logits (0 in its own setup) and ``n_cont`` means."""

    def __init__(self, in_dim: int, zc_dim: int, n_cont: int):
        super().__init__()
        self.net = nn.Sequential(_sn(nn.Linear(in_dim, 128), CR_SN, infogan_cr_init),
                                 nn.LeakyReLU(CR_SLOPE, True),
                                 _sn(nn.Linear(128, zc_dim + n_cont), CR_SN, infogan_cr_init))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class InfoGANCRPairDiscriminator(nn.Module):
    """InfoGAN-CR's H(x1, x2): D's spectral-norm trunk on the channel-concatenated pair (2C
    channels), FC 128, LeakyReLU 0.2, then a plain linear layer to ``n_factors`` logits."""

    def __init__(self, channels: int, n_factors: int):
        super().__init__()
        self.trunk = nn.Sequential(conv_trunk(2 * channels, CR_SN, CR_SLOPE, infogan_cr_init),
                                   _sn(nn.Linear(64 * 4 * 4, 128), CR_SN, infogan_cr_init),
                                   nn.LeakyReLU(CR_SLOPE, True))
        self.fc = nn.Linear(128, n_factors)
        infogan_cr_init(self.fc)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.fc(self.trunk(torch.cat([x1, x2], 1)))


def infogan_cr_nets(cfg, channels: int = 1) -> dict:
    """InfoGAN-CR's dSprites G and D (``{"G": ..., "D": ...}``; Q and H: ``InfoGANCRQ``,
    ``InfoGANCRPairDiscriminator``)."""
    return {"G": Generator(cfg.zn_dim, cfg.zc_dim, channels, infogan_cr=True),
            "D": Discriminator(channels, infogan_cr=True, sn=CR_SN)}
