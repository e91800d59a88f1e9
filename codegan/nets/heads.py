"""The heads the baselines put on the folder's networks: InfoGAN's Q on D's trunk, ClusterGAN's
encoder on a second D trunk, InfoGAN-CR's pair discriminator H on a D trunk of two stacked
images. The methods' maths is in ``codegan.methods``."""

from __future__ import annotations

import torch
from torch import nn

from . import init_normal


class QHead(nn.Module):
    """InfoGAN's Q on D's trunk features (n, in_dim): FC 128, BatchNorm, LeakyReLU(0.01) (the
    official slope), then FC to ``zc_dim`` class logits and ``n_cont`` means. Returns
    (n, zc_dim + n_cont)."""

    def __init__(self, in_dim: int, zc_dim: int, n_cont: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, 128), nn.BatchNorm1d(128),
                                 nn.LeakyReLU(0.01, True), nn.Linear(128, zc_dim + n_cont))
        init_normal(self)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class ClusterEncoder(nn.Module):
    """E: ``trunk.features`` (a second instance of the folder's D, own weights; its scoring
    linear is unused) -> linear to ``zn_dim + zc_dim``. Returns ``(z_n_hat (n, zn_dim), logits
    (n, zc_dim))``."""

    def __init__(self, trunk: nn.Module, zn_dim: int, zc_dim: int):
        super().__init__()
        self.trunk, self.zn_dim = trunk, zn_dim
        self.fc = nn.Linear(trunk.feature_dim, zn_dim + zc_dim)
        nn.init.xavier_uniform_(self.fc.weight)  # TF's default, the official last layer's
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor):
        h = self.fc(self.trunk.features(x))
        return h[:, :self.zn_dim], h[:, self.zn_dim:]


class PairDiscriminator(nn.Module):
    """H(x1, x2): images (n, C, H, W) each -> (n, n_factors) logits of the shared factor.
    ``trunk.features`` of the channel-concatenated pair (``trunk``: the folder's D built for 2C
    input channels; its scoring linear is unused), then a linear layer."""

    def __init__(self, trunk: nn.Module, n_factors: int):
        super().__init__()
        self.trunk = trunk
        self.fc = nn.Linear(trunk.feature_dim, n_factors)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.fc(self.trunk.features(torch.cat([x1, x2], 1)))
