"""The losses the methods compose: CoDeGAN's SupCon ``L_c`` and ``L_z``; the adversarial losses
(WGAN-GP, hinge, the standard GAN's cross-entropy); InfoGAN's mutual-information terms (also
ClusterGAN's and InfoGAN-CR's heads use them).

Every loss is computed in float32 outside autocast (``@float32_loss``), whatever precision the
forward passes ran in: under CPU bf16 autocast a matmul returns bfloat16, and ``L_c`` (weighted
by ``beta_1`` = 75-150) would otherwise be rounded to 8 bits of mantissa.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F


def float32_loss(fn):
    """Run ``fn`` with autocast off and its half-precision tensor arguments cast to float32
    (float32 and float64 arguments are kept as they are)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        def cast(a):
            half = torch.is_tensor(a) and a.dtype in (torch.bfloat16, torch.float16)
            return a.float() if half else a

        args = [cast(a) for a in args]
        kwargs = {k: cast(v) for k, v in kwargs.items()}
        dev = next((a.device.type for a in args if torch.is_tensor(a)), "cpu")
        with torch.autocast(dev, enabled=False):
            return fn(*args, **kwargs)

    return wrapper


@float32_loss
def supcon_loss(features: torch.Tensor, labels: torch.Tensor, temp: float,
                base_temp: float | None = None) -> torch.Tensor:
    """Supervised-contrastive loss (Khosla et al. 2020), "all" anchors.

    features: (M, d), L2-normalised rows (all views stacked: plain fakes, their augmented views,
        and any labelled real images with theirs). labels: (M,) int64 class of each row.
    For anchor i with positives P(i) = {p != i : labels[p] == labels[i]}:
        l_i = -1/|P(i)| * sum_{p in P(i)} log( exp(f_i.f_p / temp) / sum_{a != i} exp(f_i.f_a / temp) )
    Returns the mean of l_i over the anchors that have at least one positive (a scalar),
    times ``temp / base_temp`` when ``base_temp`` is given (the official SupConLoss's factor,
    ``base_temperature = 0.07``: 1 at the published ``temp_C``).
    """
    m = features.shape[0]
    sim = features @ features.T / temp
    self_mask = torch.eye(m, dtype=torch.bool, device=features.device)
    # log of the softmax over every other view a != i (the anchor itself is left out)
    log_prob = sim - torch.logsumexp(sim.masked_fill(self_mask, float("-inf")), dim=1,
                                     keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask
    n_pos = pos.sum(1)
    has_pos = n_pos > 0
    # the mean over anchors with a positive, without boolean indexing: its data-dependent shape
    # would need a host synchronisation (and cannot be captured in a CUDA graph)
    per_anchor = -(log_prob * pos).sum(1) / n_pos.clamp(min=1)
    scale = temp / base_temp if base_temp is not None else 1.0
    return scale * (per_anchor * has_pos).sum() / has_pos.sum()


@float32_loss
def lz_loss(z_hat: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``L_z = MSE(E_z(G(z, c)), z)``; both (n, zn_dim)."""
    return F.mse_loss(z_hat, z)


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor,
                     per_sample: bool = True) -> torch.Tensor:
    """WGAN-GP penalty ``E[(||grad_x D(x_hat)||_2 - 1)^2]`` on random interpolates
    ``x_hat = eps * real + (1 - eps) * fake``, eps ~ U(0, 1) per sample, or one eps for the
    whole batch (``per_sample=False``: ClusterGAN's official code). The graph is kept
    (create_graph) so the penalty trains D. The norm is ``sqrt(sum g^2 + 1e-12)`` as in the
    official CoDeGAN ``calc_gradient_penalty`` (finite gradient at g = 0); taken in float32."""
    eps = torch.rand(real.shape[0] if per_sample else 1, *([1] * (real.dim() - 1)),
                     device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    g = grad.flatten(1).float()
    with torch.autocast(g.device.type, enabled=False):
        return ((g.pow(2).sum(1) + 1e-12).sqrt() - 1).pow(2).mean()


@float32_loss
def d_loss(kind: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Critic loss without the penalty, from D's raw scores (n,). WGAN: ``D(fake) - D(real)``
    (D minimises it; the same critic as the paper's sign-flipped form, and as ClusterGAN's with
    D negated). Hinge: ``relu(1 - D(real)) + relu(1 + D(fake))``. ns (the standard GAN, scores
    are logits): ``-log sigmoid(D(real)) - log(1 - sigmoid(D(fake)))``."""
    if kind == "wgan-gp":
        return d_fake.mean() - d_real.mean()
    if kind == "hinge":
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    if kind == "ns":
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    raise ValueError(kind)


@float32_loss
def g_loss(d_fake: torch.Tensor, kind: str = "wgan-gp") -> torch.Tensor:
    """Generator's adversarial loss: ``-D(G(z, c))`` for WGAN-GP and hinge; for ns the
    non-saturating ``-log sigmoid(D(G(z, c)))`` (InfoGAN, InfoGAN-CR)."""
    if kind == "ns":
        return F.softplus(-d_fake).mean()
    return -d_fake.mean()


@float32_loss
def categorical_nll(logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``-log Q(c | x)`` averaged over the batch: the cross-entropy of the class head's logits
    (n, K) against the codes ``c`` (n,) int64. InfoGAN's mutual-information lower bound for a
    uniform code is ``L_I = H(c) - categorical_nll = log K - categorical_nll``."""
    return F.cross_entropy(logits, c)


@float32_loss
def gaussian_nll(mu: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """``-log N(code; mu, 1)`` summed over the code dimensions and averaged over the batch:
    ``0.5 * sum_j (code_j - mu_j)^2 + 0.5 * d * log(2 pi)`` for (n, d) tensors. InfoGAN and
    InfoGAN-CR model a continuous code as a Gaussian of fixed std 1 (the constant changes no
    gradient; it makes the value the negative log-likelihood the official code logs)."""
    d = mu.shape[1]
    return 0.5 * (code - mu).pow(2).sum(1).mean() + 0.5 * d * math.log(2 * math.pi)
