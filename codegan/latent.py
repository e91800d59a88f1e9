"""The latent code: a continuous ``z`` of size ``zn_dim`` and a class code
``c ~ Uniform{0..K-1}`` (K = ``zc_dim``), fed to G as ``concat(z, onehot(c))``.

``zc_dim`` 0 is "no class code" (InfoGAN and InfoGAN-CR on dSprites, whose latents are
continuous codes and noise only): ``c`` is then None and G's input is ``z`` alone.

``z``'s prior is a setting (``z_prior``, ``z_scale``): CoDeGAN draws ``z ~ N(0, I)``, ClusterGAN
``N(0, 0.1^2 I)``, InfoGAN ``U(-1, 1)``. Vectorised over the batch (the official CoDeGAN sampler
was a per-sample Python loop fixed to 10 classes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PRIORS = ("normal", "uniform")


def sample_z(n: int, zn_dim: int, device="cpu", generator=None, prior: str = "normal",
             scale: float = 1.0) -> torch.Tensor:
    """``n`` draws of ``z`` (n, zn_dim) float32: ``scale * N(0, 1)`` or ``scale * U(-1, 1)``.
    The normal prior at scale 1 is exactly ``torch.randn`` (the same numbers as before priors
    were a setting)."""
    if prior == "normal":
        z = torch.randn(n, zn_dim, device=device, generator=generator)
    elif prior == "uniform":
        z = torch.rand(n, zn_dim, device=device, generator=generator) * 2 - 1
    else:
        raise ValueError(f"z_prior is {prior!r}; one of {PRIORS}")
    return z if scale == 1.0 else z * scale


def sample_latent(n: int, zn_dim: int, zc_dim: int, device="cpu", generator=None,
                  prior: str = "normal", scale: float = 1.0):
    """Draw ``n`` latents.

    Returns ``z`` float32 (n, zn_dim) from the prior (``sample_z``) and ``c`` int64 (n,) uniform
    over 0..zc_dim-1 (None when ``zc_dim`` is 0: no class code, nothing drawn for it).
    ``generator`` (a ``torch.Generator`` on ``device``) keeps a draw out of the global stream.
    """
    z = sample_z(n, zn_dim, device, generator, prior, scale)
    if not zc_dim:
        return z, None
    c = torch.randint(0, zc_dim, (n,), device=device, generator=generator)
    return z, c


def sample_latent_cfg(cfg, n: int, device="cpu", generator=None):
    """``sample_latent`` with the sizes and the prior of a run's settings ``cfg``."""
    return sample_latent(n, cfg.zn_dim, cfg.zc_dim, device, generator, cfg.z_prior, cfg.z_scale)


def latent_input(z: torch.Tensor, c: torch.Tensor, zc_dim: int) -> torch.Tensor:
    """G's input ``concat(z, onehot(c))``: (n, zn_dim + zc_dim); ``z`` itself when ``zc_dim``
    is 0 (no class code; ``c`` is then None and ignored)."""
    if not zc_dim:
        return z
    return torch.cat([z, F.one_hot(c, zc_dim).to(z.dtype)], dim=1)


def grid_latent(n_per_class: int, zn_dim: int, zc_dim: int, seed: int = 12345, device="cpu",
                prior: str = "normal", scale: float = 1.0):
    """Latents for a sample grid: row ``c`` holds class code ``c`` with the same ``n_per_class``
    noise vectors in every row, so columns show what ``z`` does and rows what ``c`` does.

    Returns ``z`` (zc_dim * n_per_class, zn_dim) and ``c`` (zc_dim * n_per_class,), row-major.
    """
    g = torch.Generator().manual_seed(seed)
    z = sample_z(n_per_class, zn_dim, "cpu", g, prior, scale).repeat(zc_dim, 1)
    c = torch.arange(zc_dim).repeat_interleave(n_per_class)
    return z.to(device), c.to(device)
