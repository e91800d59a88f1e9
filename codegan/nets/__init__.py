"""Networks. ``Nets`` bundles what a dataset's ``models.py`` builds; the building blocks live in
``codegan.nets.infogan`` (MNIST-sized) and the ResNet modules beside it. The helpers at the end
answer what a training step asks of a network (batch statistics, spectral norm, which parameters
get gradients)."""

from __future__ import annotations

import torch
from torch import nn


class Nets(nn.Module):
    """G, D and the heads of one method's model.

    ``G(z, c)`` maps (n, zn_dim) noise and (n,) int64 codes to images (n, C, H, W) in the
    dataset's image range; ``D(x)`` returns (n,) critic scores, ``D.head(D.features(x))``: its
    trunk's features (n, ``D.feature_dim``) through the last linear (the methods' heads branch off
    the trunk: InfoGAN's Q). A method attaches its heads as further sub-modules
    (``Method.attach``), so they are saved and loaded with the rest.

    CoDeGAN's encoders are the folder's to define and built only for a method that asks for them
    (``Method.folder_encoders``): either one shared encoder ``E`` (MNIST, Fashion-MNIST:
    ``E(x) -> (z_hat, f_c)``) or two separate ones, ``E_c(x) -> f_c`` and ``E_z(x) -> z_hat``.
    ``f_c`` rows are L2-normalised (n, fc_dim); ``z_hat`` is (n, zn_dim). ``shared`` is True,
    False, or None without encoders.
    """

    def __init__(self, G: nn.Module, D: nn.Module, E: nn.Module | None = None,
                 E_c: nn.Module | None = None, E_z: nn.Module | None = None):
        super().__init__()
        if E is not None and (E_c is not None or E_z is not None) or (E_c is None) != (E_z is None):
            raise ValueError("give a shared E, or both E_c and E_z, or no encoder")
        self.G, self.D = G, D
        self.shared = None
        if E is not None:
            self.E, self.shared = E, True
        elif E_c is not None:
            self.E_c, self.E_z, self.shared = E_c, E_z, False

    def encoders(self) -> dict:
        """CoDeGAN's encoders by name: {'E': E} or {'E_c': E_c, 'E_z': E_z}; {} without."""
        if self.shared is None:
            return {}
        return {"E": self.E} if self.shared else {"E_c": self.E_c, "E_z": self.E_z}

    def drop_encoders(self) -> None:
        """Remove CoDeGAN's encoders (ConGAN keeps E_c as its frozen S under another name), so
        they take no place in checkpoints. ``shared`` becomes None."""
        for name in self.encoders():
            delattr(self, name)
        self.shared = None

    def enc_c(self, x: torch.Tensor) -> torch.Tensor:
        """E_c's L2-normalised class feature (n, fc_dim)."""
        return self.E(x)[1] if self.shared else self.E_c(x)

    def enc_z(self, x: torch.Tensor) -> torch.Tensor:
        """E_z's estimate of the noise (n, zn_dim)."""
        return self.E(x)[0] if self.shared else self.E_z(x)


def folder_nets(G: nn.Module, D: nn.Module, encoders: bool, make_encoders) -> Nets:
    """A folder's ``Nets``: G and D, and when ``encoders`` the CoDeGAN encoders
    ``make_encoders()`` returns (``{"E": ...}`` or ``{"E_c": ..., "E_z": ...}``). They are made
    after G and D, the order their weights are drawn from the seed, and not at all for a method
    that does not train them (``Method.folder_encoders``)."""
    return Nets(G, D, **(make_encoders() if encoders else {}))


def with_in_channels(D: nn.Module, channels: int) -> nn.Module:
    """Another network of ``D``'s class and settings, new weights, reading ``channels`` input
    channels (``D.init_args``: its constructor's arguments, ``channels`` among them). InfoGAN-CR's
    pair discriminator is D's architecture on the two images of a pair stacked as 2C channels,
    each with filters of its own. Bound as a method of the folders' D classes; a D of your own
    ``models.py`` offers it by keeping ``init_args`` and setting ``with_in_channels =
    with_in_channels`` (codegan/nets/infogan.py's Discriminator)."""
    return type(D)(**{**D.init_args, "channels": channels})


def unit_features(h: torch.Tensor) -> torch.Tensor:
    """(n, d) -> (n, d) rows of L2 norm 1: ``F.normalize`` of ``h`` in float32, or in float64
    for a float64 ``h`` (the float64 tests).

    Why float32: CUDA autocast runs the norm in float32 and so returns float32 rows; CPU
    autocast keeps the whole normalisation in bfloat16. On the CPU, E_c then did not learn at
    all: in 3 bf16 runs of 1,000 iterations on Fashion-MNIST, L_c stayed at log(2n - 1) (every
    row alike), where float32 runs learnt (bench/results/cpu_bf16_fashion_seeds.txt).
    Likely reason: at the official initialisation the rows are nearly parallel (mean cosine
    0.994), and bfloat16's 8-bit mantissa keeps little of what tells them apart. In float32
    runs the cast is a no-op; GPU bf16 computes what it did before."""
    return torch.nn.functional.normalize(h.to(torch.promote_types(h.dtype, torch.float32)), dim=1)


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """Conv, transposed-conv and linear weights N(0, std), biases 0. BatchNorm keeps torch's
    start (scale 1, shift 0): the official MNIST / Fashion-MNIST ``initialize_weights`` does not
    touch it."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def has_batchnorm(module: nn.Module) -> bool:
    """Batch statistics couple the rows of a batch: such a net must see its batches as built."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def has_spectral_norm(module: nn.Module) -> bool:
    """Spectral norm runs one power iteration per forward call in training: the number of calls
    is part of the maths."""
    from torch.nn.utils import parametrize

    return any(n.endswith("weight_orig") for n, _ in module.named_parameters()) or any(
        parametrize.is_parametrized(m) for m in module.modules())


def set_grad(modules, flag: bool) -> None:
    """Switch ``requires_grad`` of every parameter of ``modules``: a step computes no parameter
    gradients for the networks it does not update (gradients still flow through them)."""
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)
