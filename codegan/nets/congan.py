"""ConGAN's networks (framework 2 of "Improving Latent Space of GANs", Almansoori, Algumaei,
Sharif 2021; the authors' notebook ``ConsistentGAN.ipynb`` of zeligism/ConGAN): the generator
conditioned on a representation through conditional BatchNorms, the residual discriminator
and the consistency head. The method's maths is ``codegan.methods.congan``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .spectral import spectral_norm


class CondBatchNorm2d(nn.Module):
    """BatchNorm without its own affine, then ``gamma(r) * x_hat + beta(r)`` with
    ``[gamma, beta] = Linear(r)`` (n, 2C). ``init``: ``official`` (the notebook's: the embedding
    weight's first C *columns* N(1, 0.02), the others 0, torch's default bias), or
    ``identity`` (weight 0, bias 1 for gamma and 0 for beta: a plain BatchNorm at the start)."""

    def __init__(self, channels: int, r_dim: int, init: str = "official"):
        super().__init__()
        self.channels = channels
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.embed = nn.Linear(r_dim, 2 * channels)
        with torch.no_grad():
            if init == "official":
                self.embed.weight[:, :channels].normal_(1.0, 0.02)
                self.embed.weight[:, channels:].zero_()
            elif init == "identity":
                self.embed.weight.zero_()
                self.embed.bias[:channels].fill_(1.0)
                self.embed.bias[channels:].zero_()
            else:
                raise ValueError(f"unknown init {init!r}")

    def forward(self, x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.embed(r).to(x.dtype).chunk(2, dim=1)
        return gamma[:, :, None, None] * self.bn(x) + beta[:, :, None, None]


class CondGBlock(nn.Module):
    """Up-sampling residual block with conditional BatchNorms: CBN, ReLU, nearest x2, conv3x3,
    CBN, ReLU, conv3x3; shortcut nearest x2 (the channels stay)."""

    def __init__(self, ch: int, r_dim: int, init: str):
        super().__init__()
        self.bn1, self.bn2 = CondBatchNorm2d(ch, r_dim, init), CondBatchNorm2d(ch, r_dim, init)
        self.conv1, self.conv2 = nn.Conv2d(ch, ch, 3, 1, 1), nn.Conv2d(ch, ch, 3, 1, 1)
        for conv in (self.conv1, self.conv2):
            nn.init.xavier_uniform_(conv.weight, 1.0)

    def forward(self, x, r):
        h = F.interpolate(F.relu(self.bn1(x, r)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), r)))
        return h + F.interpolate(x, scale_factor=2, mode="nearest")


class ConGenerator(nn.Module):
    """G(z, c, r=None) -> images (n, channels, size, size) in [-1, 1].

    ``z`` (n, noise_dim + r_dim): the first ``noise_dim`` entries are the noise; without ``r``
    the last ``r_dim`` entries draw it from the fitted Gaussian, ``r = r_mean + eps @ r_chol.T``
    (buffers; ``fit_representations``). ``c`` is ignored. The input of the dense layer is
    ``[Linear(r) (hidden), noise]`` (official ``LatentTransform`` with full_transform off)."""

    def __init__(self, noise_dim: int, r_dim: int, hidden: int = 512, ch: int = 128,
                 size: int = 32, channels: int = 3, cbn_init: str = "official"):
        super().__init__()
        self.noise_dim, self.r_dim, self.ch = noise_dim, r_dim, ch
        self.transform = nn.Linear(r_dim, hidden)
        self.dense = nn.Linear(hidden + noise_dim, 16 * ch)
        nn.init.xavier_uniform_(self.dense.weight, 1.0)
        n_blocks = int(math.log2(size // 4))
        self.blocks = nn.ModuleList(CondGBlock(ch, r_dim, cbn_init) for _ in range(n_blocks))
        self.bn = CondBatchNorm2d(ch, r_dim, cbn_init)
        self.final = nn.Conv2d(ch, channels, 3, 1, 1)
        nn.init.xavier_uniform_(self.final.weight, 1.0)
        self.register_buffer("r_mean", torch.zeros(r_dim))
        self.register_buffer("r_chol", torch.eye(r_dim))

    def prior_r(self, eps: torch.Tensor) -> torch.Tensor:
        return self.r_mean + eps @ self.r_chol.T

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None,
                r: torch.Tensor | None = None) -> torch.Tensor:
        noise = z[:, :self.noise_dim]
        if r is None:
            r = self.prior_r(z[:, self.noise_dim:self.noise_dim + self.r_dim])
        r = r.to(noise.dtype)
        h = self.dense(torch.cat([self.transform(r), noise], 1)).view(-1, self.ch, 4, 4)
        for block in self.blocks:
            h = block(h, r)
        return torch.tanh(self.final(F.relu(self.bn(h, r))))


class ConDiscriminator(nn.Module):
    """SN-ResNet D with its hidden features: optimized down block, down block, 2 (32 px) or 3
    (64 px) plain blocks, all ``ch`` channels, ReLU, 8x8 average pooling, flattened to
    ``feature_dim`` (ch at 32 px, 4 ch at 64 px), spectral-norm linear to 1 (with bias).
    Official initialisation: block convs xavier gain 1, learned shortcuts gain sqrt(2)."""

    def __init__(self, channels: int = 3, ch: int = 128, size: int = 32):
        super().__init__()
        from .resnet import DBlock

        sn = "u_first"  # torch.nn.utils.parametrizations.spectral_norm, as before it was a choice
        blocks = [DBlock(channels, ch, down=True, sn=sn, optimized=True),
                  DBlock(ch, ch, down=True, sn=sn)]
        blocks += [DBlock(ch, ch, down=False, sn=sn) for _ in range(2 if size == 32 else 3)]
        self.blocks = nn.Sequential(*blocks)
        for b in blocks:
            for name, gain in (("conv1", 1.0), ("conv2", 1.0), ("shortcut", math.sqrt(2))):
                if hasattr(b, name):
                    nn.init.xavier_uniform_(getattr(b, name).parametrizations.weight.original,
                                            gain)
        self.feature_dim = ch * (size // 32) ** 2
        lin = nn.Linear(self.feature_dim, 1)
        nn.init.xavier_uniform_(lin.weight, 1.0)
        self.linear = spectral_norm(lin, sn)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.relu(self.blocks(x)), 8).flatten(1)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def consistency_head(feature_dim: int, r_dim: int, hidden: int = 512) -> nn.Module:
    """Q: Linear(h -> hidden, no bias) then Linear(hidden -> r_dim), no activation."""
    return nn.Sequential(nn.Linear(feature_dim, hidden, bias=False), nn.Linear(hidden, r_dim))


class QOnD(nn.Module):
    """x -> Q(h(x)): D's estimate of the representation (``congan_eval_features: q``)."""

    def __init__(self, D, Q):
        super().__init__()
        self.D, self.Q = D, Q

    def forward(self, x):
        return self.Q(self.D.features(x))
