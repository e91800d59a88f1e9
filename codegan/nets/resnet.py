"""ResNet networks of the CIFAR-10, COIL-20, 3D-Chairs and 3D-Cars models
(learninginvision/CoDeGAN@348d046).

- ``ResNetGenerator``: SNGAN-style G. ``concat(z, onehot(c))`` -> linear to ``ch x 4 x 4`` ->
  up-sampling residual blocks (BN, ReLU, nearest x2, conv3x3, BN, ReLU, conv3x3; shortcut
  nearest x2 + conv1x1) -> BN, ReLU, conv3x3 -> tanh. Images in [-1, 1].
- ``ResNetDiscriminator``: SNGAN-style critic. optimized first block (conv, ReLU, conv, avg-pool;
  shortcut avg-pool + conv1x1) -> down blocks -> plain blocks -> ReLU -> sum over space ->
  linear. Spectral norm on every conv/linear when ``spectral_norm`` names a power-step order
  (CIFAR-10; ``codegan.nets.spectral``); none (None) for the WGAN-GP models (COIL-20, 3D sets),
  whose gradient penalty already constrains D.
- ``ResNet18Encoder``: a ResNet-18 trunk (torchvision's BasicBlock layout) with the CIFAR stem
  (conv3x3 stride 1, no max-pool), any number of input channels, global average pooling to a
  512-d feature, and an MLP head 512 -> 512 -> ``out_dim``; L2-normalised output for ``E_c``,
  raw output for ``E_z``.
- ``ResNetClassifier``: the G-based evaluation classifier, the same CIFAR-stem trunk built from
  torchvision's ResNet-50 (the official default) or ResNet-18, with a linear head to K logits.

``build_*_nets(cfg)`` functions assemble the four models' ``Nets``; each dataset folder's
``models.py`` calls one of them (and is the place to try other architectures).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..latent import latent_input
from . import unit_features, with_in_channels
from .spectral import spectral_norm as _spectral_norm


def _sn(module: nn.Module, order: str | None) -> nn.Module:
    return module if order is None else _spectral_norm(module, order)


def _xavier(module: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


# -- generator -----------------------------------------------------------------------------------
class GBlock(nn.Module):
    """Up-sampling residual block: (n, c_in, h, w) -> (n, c_out, 2h, 2w)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = _xavier(nn.Conv2d(c_in, c_out, 3, 1, 1), math.sqrt(2))
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = _xavier(nn.Conv2d(c_out, c_out, 3, 1, 1), math.sqrt(2))
        self.shortcut = _xavier(nn.Conv2d(c_in, c_out, 1, 1, 0), 1.0)

    def forward(self, x):
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(nn.Module):
    """G(z, c): z (n, zn_dim) float, c (n,) int64 in 0..zc_dim-1 -> images (n, channels, s, s)
    in [-1, 1], with ``s = 4 * 2 ** len(block_channels)``.

    ``base`` channels at 4x4; block ``i`` outputs ``block_channels[i]`` channels.
    CIFAR-10 / COIL-20: base 256, blocks (256, 256, 256) -> 32x32. 3D-Chairs / 3D-Cars
    (official first upload): base 512, four blocks of 512 -> 64x64.
    ``bn_init_std``: BatchNorm scales start N(1, std) (official CIFAR-10 G: 0.02); 0 keeps
    torch's start of 1 (official COIL-20 and 3D G).
    """

    def __init__(self, zn_dim: int, zc_dim: int, channels: int = 3, base: int = 256,
                 block_channels=(256, 256, 256), bn_init_std: float = 0.0):
        super().__init__()
        self.zc_dim, self.base = zc_dim, base
        self.linear = _xavier(nn.Linear(zn_dim + zc_dim, base * 16), 1.0)
        chans = [base, *block_channels]
        self.blocks = nn.Sequential(*[GBlock(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.bn = nn.BatchNorm2d(chans[-1])
        self.conv = _xavier(nn.Conv2d(chans[-1], channels, 3, 1, 1), 1.0)
        self.size = 4 * 2 ** len(block_channels)
        if bn_init_std:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    nn.init.normal_(m.weight, 1.0, bn_init_std)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.linear(latent_input(z, c, self.zc_dim)).view(-1, self.base, 4, 4)
        h = F.relu(self.bn(self.blocks(h)))
        return torch.tanh(self.conv(h))


# -- discriminator -------------------------------------------------------------------------------
class DBlock(nn.Module):
    """Critic residual block (ReLU, conv3x3, ReLU, conv3x3 [, avg-pool 2]); shortcut conv1x1
    [+ avg-pool] when the shape changes, identity otherwise. ``optimized``: the first block,
    without the leading ReLU and with pooling before the shortcut conv (SNGAN). ``sn``: the
    spectral norm's power-step order (``codegan.nets.spectral.ORDERS``), None for none."""

    def __init__(self, c_in: int, c_out: int, down: bool, sn: str | None,
                 optimized: bool = False):
        super().__init__()
        self.down, self.optimized = down, optimized
        self.conv1 = _sn(_xavier(nn.Conv2d(c_in, c_out, 3, 1, 1), math.sqrt(2)), sn)
        self.conv2 = _sn(_xavier(nn.Conv2d(c_out, c_out, 3, 1, 1), math.sqrt(2)), sn)
        self.learn_sc = down or c_in != c_out
        if self.learn_sc:
            self.shortcut = _sn(_xavier(nn.Conv2d(c_in, c_out, 1, 1, 0), 1.0), sn)

    def forward(self, x):
        h = x if self.optimized else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.learn_sc:
            if self.optimized:
                s = self.shortcut(F.avg_pool2d(s, 2))
            else:
                s = self.shortcut(s)
                s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class ResNetDiscriminator(nn.Module):
    """D(x): images (n, channels, s, s) -> (n,) critic scores.

    Optimized block + ``n_down`` down blocks + ``n_plain`` plain blocks, all ``ch`` channels,
    then ReLU, sum over the spatial positions, linear to 1. CIFAR-10 (SNGAN): ch 128, 1 down,
    2 plain, spectral norm. 64x64 sets: 2 down blocks (8x8 before pooling, as at 32x32).
    ``spectral_norm``: its power-step order (``codegan.nets.spectral.ORDERS``; the official
    code's ``v_first`` by default), None for none.
    """

    def __init__(self, channels: int = 3, ch: int = 128, n_down: int = 1, n_plain: int = 2,
                 spectral_norm: str | None = "v_first", linear_bias: bool = True):
        super().__init__()
        self.init_args = dict(channels=channels, ch=ch, n_down=n_down, n_plain=n_plain,
                              spectral_norm=spectral_norm, linear_bias=linear_bias)
        blocks = [DBlock(channels, ch, down=True, sn=spectral_norm, optimized=True)]
        blocks += [DBlock(ch, ch, down=True, sn=spectral_norm) for _ in range(n_down)]
        blocks += [DBlock(ch, ch, down=False, sn=spectral_norm) for _ in range(n_plain)]
        self.blocks = nn.Sequential(*blocks)
        # Official CIFAR-10 D: the last linear has no bias (a constant shift of every score).
        # Official COIL-20 and 3D Ds: Xavier on its weight only; its bias keeps PyTorch's default
        # U(-1/sqrt(ch), 1/sqrt(ch)) (learninginvision/CoDeGAN@348d046:
        # 3D-Chairs/models/Discriminator.py:80-84, COIL-20/models/Discriminator.py:81-85).
        self.linear = nn.Linear(ch, 1, bias=linear_bias)
        nn.init.xavier_uniform_(self.linear.weight, 1.0)
        self.linear = _sn(self.linear, spectral_norm)
        self.feature_dim = ch

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk: (n, channels, s, s) -> (n, ch), ReLU then sum over positions."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """The last linear: trunk features (n, ch) -> (n,) scores."""
        return self.linear(h).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    with_in_channels = with_in_channels


# -- encoders ------------------------------------------------------------------------------------
# pooled feature size of each torchvision body the trunks are built from
TRUNK_FEATURES = {"resnet18": 512, "resnet50": 2048}


def resnet_trunk(arch: str, in_channels: int) -> nn.Module:
    """torchvision's ResNet-18 (BasicBlock [2, 2, 2, 2]) or ResNet-50 (Bottleneck [3, 4, 6, 3])
    with the CIFAR stem: (n, in_channels, s, s) -> (n, TRUNK_FEATURES[arch]) after global average
    pooling. The 7x7/2 stem and max-pool are replaced by a 3x3/1 conv, which keeps the
    resolution of small images (32x32: 4x4 before pooling); the rest is torchvision's body and
    initialisation, untouched."""
    import torchvision

    if arch not in TRUNK_FEATURES:
        raise ValueError(f"unknown trunk {arch!r}; one of {', '.join(TRUNK_FEATURES)}")
    net = getattr(torchvision.models, arch)(weights=None)
    net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return net


def resnet18_trunk(in_channels: int) -> nn.Module:
    """``resnet_trunk("resnet18", in_channels)``: the 512-d trunk of E_c and E_z."""
    return resnet_trunk("resnet18", in_channels)


class ResNet18Encoder(nn.Module):
    """E_c or E_z: ResNet-18 (CIFAR stem) -> MLP 512 -> ``hidden`` -> ``out_dim``.

    Input (n, in_channels, s, s) in the dataset's image range. Output (n, out_dim): rows
    L2-normalised when ``normalize`` (E_c's feature for L_c), raw otherwise (E_z's z estimate).
    """

    def __init__(self, in_channels: int, out_dim: int, hidden: int = 512,
                 normalize: bool = False):
        super().__init__()
        self.trunk = resnet18_trunk(in_channels)
        self.head = nn.Sequential(nn.Linear(512, hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, out_dim))
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(self.trunk(x))
        return unit_features(h) if self.normalize else h


class ResNetClassifier(nn.Module):
    """The G-based evaluation classifier: a CIFAR-stem ResNet trunk (``arch``: "resnet50", the
    official ``Classifier()`` -- 2048-d feature; or "resnet18" -- 512-d) -> one linear layer to
    ``num_classes`` logits. Input (n, in_channels, s, s) in the dataset's image range; output
    (n, K) raw logits. The state-dict keys (``trunk.*``, ``fc.*``) are the same for both."""

    def __init__(self, in_channels: int, num_classes: int, arch: str = "resnet50"):
        super().__init__()
        self.arch = arch
        self.trunk = resnet_trunk(arch, in_channels)
        self.fc = nn.Linear(TRUNK_FEATURES[arch], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.trunk(x))


# -- the four models -----------------------------------------------------------------------------
def _nets(cfg, G: nn.Module, D: nn.Module, channels: int, encoders: bool):
    """G and D, and with ``encoders`` the ResNet-18 E_c and E_z (``folder_nets``)."""
    from . import folder_nets

    return folder_nets(G, D, encoders, lambda: {
        "E_c": ResNet18Encoder(channels, cfg.fc_dim, normalize=True),
        "E_z": ResNet18Encoder(channels, cfg.zn_dim, normalize=False)})


def build_cifar_nets(cfg, encoders: bool = True):
    """CIFAR-10: SNGAN G (4x4x256, three up blocks -> 3x32x32; BatchNorm scales N(1, 0.02)),
    spectral-norm ResNet D (128 channels, bias-free last linear), E_c / E_z ResNet-18 (heads
    512-512-fc_dim, 512-512-zn_dim)."""
    return _nets(cfg, ResNetGenerator(cfg.zn_dim, cfg.zc_dim, 3, 256, (256, 256, 256),
                                      bn_init_std=0.02),
                 ResNetDiscriminator(3, 128, n_down=1, n_plain=2,
                                     spectral_norm=cfg.sn_power_order, linear_bias=False),
                 3, encoders)


def build_coil20_nets(cfg, encoders: bool = True):
    """COIL-20: ResNet G (4x4x256, three up blocks -> 1x32x32), ResNet D (128 channels, no
    spectral norm: WGAN-GP), 1-channel ResNet-18 E_c / E_z."""
    return _nets(cfg, ResNetGenerator(cfg.zn_dim, cfg.zc_dim, 1, 256, (256, 256, 256)),
                 ResNetDiscriminator(1, 128, n_down=1, n_plain=2, spectral_norm=None),
                 1, encoders)


def build_3d_nets(cfg, encoders: bool = True):
    """3D-Chairs / 3D-Cars (official first upload): ResNet G (4x4x512, four up blocks all 512
    channels, BN(512), ReLU, conv 512 -> 3, tanh: 3x64x64), ResNet D (256 channels, two down
    blocks, two plain, no spectral norm: WGAN-GP), ResNet-18 E_c / E_z."""
    return _nets(cfg, ResNetGenerator(cfg.zn_dim, cfg.zc_dim, 3, 512, (512, 512, 512, 512)),
                 ResNetDiscriminator(3, 256, n_down=2, n_plain=2, spectral_norm=None),
                 3, encoders)
