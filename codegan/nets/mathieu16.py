"""The networks of Mathieu et al. 2016 as reimplemented in PyTorch by ananyahjha93 (MNIST
shapes: 1 x 28 x 28): the encoder of an unspecified code z (mean, log-variance) and a specified
code s, the decoder of (z, s), and the discriminator of image pairs. The method's maths is
``codegan.methods.mathieu16``."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


class InstanceNorm(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d(track_running_stats=True)`` (the reference's layer; the same state
    entries), whose eval mode normalises with the image's own statistics when
    ``instance_at_eval`` (what the network trained with) instead of the running averages."""

    def __init__(self, channels: int, instance_at_eval: bool = True):
        super().__init__(channels, track_running_stats=True)
        self.instance_at_eval = instance_at_eval

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training and self.instance_at_eval:
            return F.instance_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        return super().forward(x)


def init_official(module: nn.Module, std: float = 0.05) -> None:
    """The reference's ``weights_init``: Conv2d and Linear weights N(0, 0.05), biases 0;
    transposed convolutions keep torch's default."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and not isinstance(m, nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)


def _conv_trunk(widths, act, instance_at_eval):
    """conv 5x5 stride 2 pad 1 + InstanceNorm + ``act`` per width: 28 -> 13 -> 6 -> 2."""
    layers, c_in = [], widths[0]
    for i, c in enumerate(widths[1:]):
        layers += [(f"conv{i}", nn.Conv2d(c_in, c, 5, 2, 1)),
                   (f"norm{i}", InstanceNorm(c, instance_at_eval)), (f"act{i}", act())]
        c_in = c
    return nn.Sequential(OrderedDict(layers))


class Encoder(nn.Module):
    """x (n, 1, 28, 28) -> (mu (n, z_dim), logvar (n, z_dim), s (n, s_dim)): conv 16/32/64,
    flattened to 256, three linear heads."""

    def __init__(self, z_dim: int, s_dim: int, channels: int = 1, instance_at_eval=True):
        super().__init__()
        self.trunk = _conv_trunk([channels, 16, 32, 64], nn.ReLU, instance_at_eval)
        self.mu, self.logvar = nn.Linear(256, z_dim), nn.Linear(256, z_dim)
        self.s = nn.Linear(256, s_dim)
        init_official(self)

    def forward(self, x: torch.Tensor):
        h = self.trunk(x).flatten(1)
        return self.mu(h), self.logvar(h), self.s(h)


class Decoder(nn.Module):
    """(z (n, z_dim), s (n, s_dim)) -> images (n, 1, 28, 28) in [0, 1]: each code through a
    linear layer to 256 and LeakyReLU(0.2), concatenated to 128 x 2 x 2, then transposed
    convolutions 4x4 stride 2 to 32 and 16 channels (InstanceNorm + LeakyReLU), a last one
    (pad 1) to one channel, sigmoid."""

    def __init__(self, z_dim: int, s_dim: int, channels: int = 1, instance_at_eval=True):
        super().__init__()
        self.z_in, self.s_in = nn.Linear(z_dim, 256), nn.Linear(s_dim, 256)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(128, 32, 4, 2, 0), InstanceNorm(32, instance_at_eval),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(32, 16, 4, 2, 0), InstanceNorm(16, instance_at_eval),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(16, channels, 4, 2, 1), nn.Sigmoid())
        init_official(self)

    def forward(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = torch.cat([F.leaky_relu(self.z_in(z), 0.2), F.leaky_relu(self.s_in(s), 0.2)], 1)
        return self.up(h.view(len(h), 128, 2, 2))


class SameClassPairDiscriminator(nn.Module):
    """D(x1, x2): a pair of images (n, 1, 28, 28) each, as two channels -> (n, 2) logits
    (index 1: a real same-class pair). conv 32/64/128 + InstanceNorm + LeakyReLU(0.2), linear
    512 -> 2."""

    def __init__(self, channels: int = 1, instance_at_eval=True):
        super().__init__()
        self.trunk = _conv_trunk([2 * channels, 32, 64, 128], lambda: nn.LeakyReLU(0.2),
                                 instance_at_eval)
        self.fc = nn.Linear(512, 2)
        init_official(self)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.fc(self.trunk(torch.cat([x1, x2], 1)).flatten(1))
