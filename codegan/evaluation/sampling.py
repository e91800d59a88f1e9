"""Sampling from a trained G: class-by-row grids and generators rebuilt from checkpoints."""

from __future__ import annotations

import os

import torch

from ..checkpoint import load_checkpoint
from ..config import stored, validate
from ..data.datasets import DATASETS
from ..device import pick_device
from ..folders import find_dataset_dir
from ..latent import grid_latent
from ..methods import build_method_nets


@torch.no_grad()
def save_grid(G, cfg, path: str, device, n_per_class: int = 10) -> None:
    """Save a PNG grid: row ``c`` shows class code ``c`` (K rows), ``n_per_class`` columns
    sharing the same noise vectors. G is switched to eval mode (BN running statistics) for it.
    Needs a class code (``zc_dim`` > 0); ``codegan.evaluation.traversal.save_samples`` picks
    a latent traversal for a G without one."""
    from torchvision.utils import save_image

    if not cfg.zc_dim:
        raise ValueError("save_grid needs a class code (zc_dim > 0); use traversal.save_samples")

    was_training = G.training
    G.eval()
    try:
        z, c = grid_latent(n_per_class, cfg.zn_dim, cfg.zc_dim, device=device,
                           prior=cfg.z_prior, scale=cfg.z_scale)
        x = G(z, c).float().cpu()
    finally:
        G.train(was_training)
    lo, hi = DATASETS[cfg.dataset].image_range
    save_image((x - lo) / (hi - lo), path, nrow=n_per_class, padding=2, pad_value=1.0)


def load_generator(checkpoint_path: str, device="auto"):
    """Rebuild G from a checkpoint, in eval mode; the EMA weights when the run kept them.

    Returns ``(G, cfg)``; ``G(z, c)`` maps (n, zn_dim) noise and (n,) int64 codes to images in
    the dataset's image range (``codegan.data.datasets.DATASETS[cfg.dataset].image_range``).
    """
    from ..errors import UserError
    from ..methods import METHODS

    state = load_checkpoint(checkpoint_path)
    cfg = validate(stored(state["config"]), source=checkpoint_path)
    if not METHODS[cfg.method].noise_generator:
        raise UserError(f"{checkpoint_path} is a {cfg.method} checkpoint: its G decodes codes "
                        f"of real images and draws no samples from a prior; see its figures "
                        f"(python -m codegan.evaluation.split_codes --checkpoint=...).")
    dev = pick_device(device)
    # the method's networks: a method may bring its own G (ConGAN's conditional generator,
    # InfoGAN-CR's dSprites networks with infogan_cr_nets)
    G = build_method_nets(find_dataset_dir(state), cfg).G
    sd = state["G_ema"] if state.get("G_ema") is not None else \
        {k[2:]: v for k, v in state["nets"].items() if k.startswith("G.")}
    G.load_state_dict(sd)
    return G.to(dev).eval(), cfg


def load_nets(checkpoint_path: str, device="auto"):
    """Rebuild every network of a checkpoint (eval mode). Returns ``(nets, cfg, state)``."""
    state = load_checkpoint(checkpoint_path)
    cfg = validate(stored(state["config"]), source=checkpoint_path)
    nets = build_method_nets(find_dataset_dir(state), cfg)
    nets.load_state_dict(state["nets"])
    return nets.to(pick_device(device)).eval(), cfg, state


def kept_beside(checkpoint: str, name: str, compute, keep=lambda res: True, device="cpu"):
    """``compute(nets, cfg, device)`` of a checkpoint's networks (``load_nets``), computed once
    and kept beside it as ``ckpt-<N>.<name>.json``, which a later call reads back; a result
    ``keep`` rejects is returned but not kept (it may change later)."""
    import json

    from ..errors import write_text

    path = os.path.splitext(checkpoint)[0] + f".{name}.json"
    if os.path.isfile(path):
        with open(path) as f:
            return json.load(f)
    nets, cfg, _ = load_nets(checkpoint, device=device)
    res = compute(nets, cfg, next(nets.parameters()).device)
    if keep(res):
        write_text(path, json.dumps(res))
    return res
