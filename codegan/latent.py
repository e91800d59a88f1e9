"""The latent code of CoDeGAN: ``z ~ N(0, I)`` of size ``zn_dim`` and a class code
``c ~ Uniform{0..K-1}`` (K = ``zc_dim``), fed to G as ``concat(z, onehot(c))``.

Vectorised over the batch (the official sampler was a per-sample Python loop fixed to 10 classes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_latent(n: int, zn_dim: int, zc_dim: int, device="cpu", generator=None):
    """Draw ``n`` latents.

    Returns ``z`` float32 (n, zn_dim) ~ N(0, 1) and ``c`` int64 (n,) uniform over 0..zc_dim-1.
    ``generator`` (a ``torch.Generator`` on ``device``) keeps a draw out of the global stream.
    """
    z = torch.randn(n, zn_dim, device=device, generator=generator)
    c = torch.randint(0, zc_dim, (n,), device=device, generator=generator)
    return z, c


def latent_input(z: torch.Tensor, c: torch.Tensor, zc_dim: int) -> torch.Tensor:
    """G's input ``concat(z, onehot(c))``: (n, zn_dim + zc_dim)."""
    return torch.cat([z, F.one_hot(c, zc_dim).to(z.dtype)], dim=1)


def grid_latent(n_per_class: int, zn_dim: int, zc_dim: int, seed: int = 12345, device="cpu"):
    """Latents for a sample grid: row ``c`` holds class code ``c`` with the same ``n_per_class``
    noise vectors in every row, so columns show what ``z`` does and rows what ``c`` does.

    Returns ``z`` (zc_dim * n_per_class, zn_dim) and ``c`` (zc_dim * n_per_class,), row-major.
    """
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_per_class, zn_dim, generator=g).repeat(zc_dim, 1)
    c = torch.arange(zc_dim).repeat_interleave(n_per_class)
    return z.to(device), c.to(device)
