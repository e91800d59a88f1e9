"""The dSprites networks of the official CoDeGAN first upload (``dSprites/model.py`` at 348d046),
which are InfoGAN-CR's dSprites networks (BASELINES.md section 2) with CoDeGAN's encoder.

- G: concat(z, onehot(c)) -> FC 128 -> FC 64*4*4 -> ConvT 64 (8x8) -> ConvT 32 (16x16) ->
  ConvT 32 (32x32) -> ConvT 1 (64x64) -> sigmoid (binary images in [0, 1]). Every hidden layer is
  followed by ReLU and THEN BatchNorm (the official order, as InfoGAN-CR's); all ConvT 4x4 s2 p1.
- D: spectral norm on every layer, no normalisation: conv 4x4 s2 32, 32, 64, 64 (LeakyReLU 0.1)
  -> FC 128 (LeakyReLU 0.1) -> FC 1. It returns the logit; the official D ends in a sigmoid
  under ``nn.BCELoss``, which is the same loss as ``gan_loss: ns`` on the logit.
- E (one shared trunk, ``Nets.E``): D's spectral-norm conv trunk -> FC 128 -> FC 128 (LeakyReLU
  0.1) -> FC (zn_dim + fc_dim); ``(z_hat, f_c)`` = the first zn_dim outputs and the L2-normalised
  rest (the official ``fz_dim`` equals ``zn_dim``).

Initialisation: the official ``_init: 'pytorch'`` (``pytorch_init``): conv, transposed-conv and
linear weights keep PyTorch's default (Kaiming-uniform, a = sqrt 5), every bias 0, BatchNorm
scale ~ N(1, 0.02) and shift 0. Spectral norm is ``torch.nn.utils.parametrizations.spectral_norm``
(one power iteration per forward call in training mode, as the official
``nn.utils.spectral_norm``; the new one starts its vectors with 15 power iterations).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..latent import latent_input

SLOPE = 0.1  # LeakyReLU slope of the official D and E (InfoGAN-CR's is 0.2)


def official_init(module: nn.Module) -> None:
    """The official ``pytorch_init``: default weights, zero biases, BatchNorm scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _sn(m: nn.Module) -> nn.Module:
    official_init(m)  # before the parametrisation, so the initial weight is the one normalised
    return nn.utils.parametrizations.spectral_norm(m)


def conv_trunk(channels: int) -> nn.Sequential:
    """The spectral-norm conv trunk of D and E: (n, C, 64, 64) -> (n, 64*4*4)."""
    layers = []
    for cin, cout in ((channels, 32), (32, 32), (32, 64), (64, 64)):
        layers += [_sn(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(SLOPE, True)]
    return nn.Sequential(*layers, nn.Flatten())


class Generator(nn.Module):
    """G(z, c) -> (n, channels, 64, 64) in [0, 1] (module docstring)."""

    def __init__(self, zn_dim: int, zc_dim: int, channels: int = 1):
        super().__init__()
        self.zc_dim = zc_dim
        self.fc = nn.Sequential(
            nn.Linear(zn_dim + zc_dim, 128), nn.ReLU(True), nn.BatchNorm1d(128),
            nn.Linear(128, 64 * 4 * 4), nn.ReLU(True), nn.BatchNorm1d(64 * 4 * 4))
        layers = []
        for cin, cout in ((64, 64), (64, 32), (32, 32)):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.ReLU(True), nn.BatchNorm2d(cout)]
        self.deconv = nn.Sequential(*layers, nn.ConvTranspose2d(32, channels, 4, 2, 1))
        official_init(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.fc(latent_input(z, c, self.zc_dim)).view(-1, 64, 4, 4)
        return torch.sigmoid(self.deconv(h))


class Discriminator(nn.Module):
    """D: (n, channels, 64, 64) -> (n,) logits; ``features`` the FC-128 trunk (n, 128)."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.trunk = nn.Sequential(conv_trunk(channels), _sn(nn.Linear(64 * 4 * 4, 128)),
                                   nn.LeakyReLU(SLOPE, True))
        self.last = _sn(nn.Linear(128, 1))
        self.feature_dim = 128

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.last(h).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class SharedEncoder(nn.Module):
    """E: (n, channels, 64, 64) -> ``(z_hat (n, zn_dim), f_c (n, fc_dim) L2-normalised)``."""

    def __init__(self, zn_dim: int, fc_dim: int, channels: int = 1):
        super().__init__()
        self.zn_dim = zn_dim
        self.net = nn.Sequential(
            conv_trunk(channels),
            _sn(nn.Linear(64 * 4 * 4, 128)), nn.LeakyReLU(SLOPE, True),
            _sn(nn.Linear(128, 128)), nn.LeakyReLU(SLOPE, True),
            _sn(nn.Linear(128, zn_dim + fc_dim)))

    def forward(self, x: torch.Tensor):
        h = self.net(x)
        return h[:, :self.zn_dim], F.normalize(h[:, self.zn_dim:], dim=1)


def build_nets(cfg, channels: int = 1):
    """The official dSprites model: G, D and one shared encoder (``cfg``: zn_dim, zc_dim,
    fc_dim)."""
    from . import Nets

    return Nets(G=Generator(cfg.zn_dim, cfg.zc_dim, channels), D=Discriminator(channels),
                E=SharedEncoder(cfg.zn_dim, cfg.fc_dim, channels))
