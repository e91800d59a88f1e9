"""InfoGAN-style networks of the MNIST / Fashion-MNIST models (paper's official architecture)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..latent import latent_input
from . import init_normal, unit_features, with_in_channels


class Generator(nn.Module):
    """G: concat(z, onehot(c)) -> FC 1024 (BN, ReLU) -> FC 128*s*s (BN, ReLU) -> ConvT 4x4 s2 to 64
    (BN, ReLU) -> ConvT 4x4 s2 to ``channels`` -> sigmoid (images in [0, 1]) or tanh ([-1, 1]).
    ``size`` = 4 * s (28 for MNIST)."""

    def __init__(self, zn_dim: int, zc_dim: int, channels: int = 1, size: int = 28,
                 out: str = "sigmoid"):
        super().__init__()
        self.zc_dim = zc_dim
        s = size // 4
        self.s = s
        self.fc = nn.Sequential(
            nn.Linear(zn_dim + zc_dim, 1024), nn.BatchNorm1d(1024), nn.ReLU(True),
            nn.Linear(1024, 128 * s * s), nn.BatchNorm1d(128 * s * s), nn.ReLU(True))
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.ConvTranspose2d(64, channels, 4, 2, 1))
        self.out = torch.sigmoid if out == "sigmoid" else torch.tanh
        init_normal(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.fc(latent_input(z, c, self.zc_dim)).view(-1, 128, self.s, self.s)
        return self.out(self.deconv(h))


class Discriminator(nn.Module):
    """D (critic): conv 4x4 s2 64 -> conv 4x4 s2 128 -> FC 1024 -> FC 1, LeakyReLU(0.2).
    No normalisation layers: the gradient penalty is per sample. Returns (n,) scores."""

    def __init__(self, channels: int = 1, size: int = 28):
        super().__init__()
        self.init_args = dict(channels=channels, size=size)
        s = size // 4
        self.net = nn.Sequential(
            nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2, True), nn.Flatten(),
            nn.Linear(128 * s * s, 1024), nn.LeakyReLU(0.2, True), nn.Linear(1024, 1))
        self.feature_dim = 1024
        init_normal(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk: (n, C, H, W) -> (n, 1024), the input of the last linear (where InfoGAN's
        Q branches off)."""
        return self.net[:-1](x)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """The last linear: trunk features (n, 1024) -> (n,) scores."""
        return self.net[-1](h).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)

    with_in_channels = with_in_channels


class SharedEncoder(nn.Module):
    """One trunk for E_z and E_c: conv 64 -> 128 -> 256 (4x4 s2, LeakyReLU 0.2) -> FC 1024 ->
    FC (zn_dim + fc_dim). Returns ``(z_hat, f_c)``: the first zn_dim outputs (n, zn_dim) and the
    L2-normalised rest (n, fc_dim)."""

    def __init__(self, zn_dim: int, fc_dim: int, channels: int = 1, size: int = 28):
        super().__init__()
        self.zn_dim = zn_dim
        s = ((size // 2) // 2 - 2) // 2 + 1  # spatial size after three 4x4/s2/p1 convs (28 -> 3)
        self.net = nn.Sequential(
            nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(128, 256, 4, 2, 1), nn.LeakyReLU(0.2, True), nn.Flatten(),
            nn.Linear(256 * s * s, 1024), nn.LeakyReLU(0.2, True),
            nn.Linear(1024, zn_dim + fc_dim))
        init_normal(self)

    def forward(self, x: torch.Tensor):
        h = self.net(x)
        return h[:, :self.zn_dim], unit_features(h[:, self.zn_dim:])


def build_nets(cfg, channels: int = 1, size: int = 28, encoders: bool = True):
    """The MNIST-sized model: G, D and (with ``encoders``) one shared encoder (``cfg``: zn_dim,
    zc_dim, fc_dim)."""
    from . import folder_nets

    return folder_nets(Generator(cfg.zn_dim, cfg.zc_dim, channels, size, out="sigmoid"),
                       Discriminator(channels, size), encoders,
                       lambda: {"E": SharedEncoder(cfg.zn_dim, cfg.fc_dim, channels, size)})
