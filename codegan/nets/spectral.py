"""Spectral normalisation (Miyato et al. 2018) in the two orders PyTorch has computed it.

Both divide a layer's weight W by sigma = u^T W v, where u, v are unit vectors that one step of
the power method moves towards W's leading singular vectors at every forward call in training
mode (eval mode reuses the stored u, v). They differ in the step's order and in where u, v start:

- ``v_first``: ``torch.nn.utils.spectral_norm`` (deprecated; the official CoDeGAN code's, e.g.
  learninginvision/CoDeGAN@348d046:CIFAR-10/models/Discriminator.py:20, dSprites/model.py:92):
  u, v start as random unit vectors; a step is v = W^T u / |.|, then u = W v / |.|.
- ``u_first``: ``torch.nn.utils.parametrizations.spectral_norm``: the same draws, then 16 power
  steps at construction (15, and one when its registration checks it); a step is u = W v / |.|, then v = W^T u / |.|.

From equal u, v the two sigmas differ until the vectors settle, which they have not done early
in training (FAITHFULNESS.md, CIFAR-10 D). Both are parametrizations here, so a layer's state
has the same names in either order (``parametrizations.weight.original``, ``...0._u``,
``...0._v``) and a checkpoint loads into both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm

ORDERS = ("v_first", "u_first")


class VFirstSpectralNorm(_SpectralNorm):
    """``torch.nn.utils.spectral_norm``'s arithmetic as a parametrization: random unit u, v at
    the start (no warm-up steps), each power step v first, then u."""

    def __init__(self, weight: torch.Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12):
        # the parent's constructor draws u, v exactly as the old API does, then warms them up
        # with 15 power steps, which the old API does not: _power_method skips steps until
        # construction has finished
        super().__init__(weight, n_power_iterations, dim, eps)
        self.started = True

    @torch.no_grad()
    def _power_method(self, weight_mat: torch.Tensor, n_power_iterations: int) -> None:
        if not getattr(self, "started", False):
            return
        for _ in range(n_power_iterations):  # in place, as the parent (its note on replicas)
            self._v = F.normalize(torch.mv(weight_mat.t(), self._u), dim=0, eps=self.eps,
                                  out=self._v)
            self._u = F.normalize(torch.mv(weight_mat, self._v), dim=0, eps=self.eps,
                                  out=self._u)


def spectral_norm(module: nn.Module, order: str) -> nn.Module:
    """``module`` (a conv or linear layer) with its weight spectrally normalised, one power step
    per training-mode call, in ``order`` (``ORDERS``). Returns the module."""
    if order == "u_first":
        return nn.utils.parametrizations.spectral_norm(module)
    if order != "v_first":
        raise ValueError(f"spectral norm order {order!r}: one of {ORDERS}")
    # both torch APIs normalise a transposed convolution's weight along dim 1, all else dim 0
    dim = 1 if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d,
                                   nn.ConvTranspose3d)) else 0
    # unsafe: the safe registration checks the parametrization by calling it once, which in
    # training mode is a power step the old API does not take
    parametrize.register_parametrization(module, "weight", VFirstSpectralNorm(module.weight,
                                                                              dim=dim),
                                         unsafe=True)
    return module
