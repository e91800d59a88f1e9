"""Latent traversals of a checkpoint's G: row j varies one code of ``z`` over
its range, every other entry of the latent fixed at one draw from the prior, as InfoGAN-CR's
``visualize`` does (``uniformly_sample``: its code's ``linspace(low, high)``, the rest one
sample); and, for a method with a class code (CoDeGAN on dSprites: the shape), the grid of the
discrete code (row c = class code c, the columns' noise shared by all rows).

    python -m codegan.evaluation.traversal --checkpoint=PATH [--out=DIR] [--steps=10]
        [--dims=0,1,2] [--reps=1] [--seed=0] [--class_code=0] [--device=auto]

Which codes: a method with continuous codes (InfoGAN, InfoGAN-CR: ``info_cont_dim``) varies those;
any other (CoDeGAN, ClusterGAN, whose z has no designated codes) the first ``min(zn_dim, 10)``
entries of z, or ``--dims``. Range: ``[-z_scale, z_scale]`` for a uniform prior (the codes'
whole range), ``[-2 z_scale, 2 z_scale]`` for a normal one. ``--reps`` base draws give that many
rows per code (code-major). The figures go beside the checkpoint (``<ckpt>.traversal.png``,
``<ckpt>.classgrid.png``) or in ``--out``, never over an existing file (``-1``, ``-2``, ...).
"""

from __future__ import annotations

import os
import sys

import torch

from ..data.datasets import DATASETS
from ..errors import UserError, cli_guard, write_file
from ..latent import sample_z
from ..methods import METHODS
from .sampling import load_generator, save_grid
from .split_codes import has_split_codes, save_swap_grid

MAX_DEFAULT_DIMS = 10  # z entries varied by default for a method without designated codes


def default_dims(cfg) -> list[int]:
    """The codes a traversal varies: the continuous codes of a method that has them
    (``info_cont_dim``), else the first ``min(zn_dim, 10)`` entries of z."""
    m = getattr(cfg, "info_cont_dim", 0)
    return list(range(m)) if m else list(range(min(cfg.zn_dim, MAX_DEFAULT_DIMS)))


def value_range(cfg) -> tuple[float, float]:
    """The range a code is varied over: the uniform prior's support, or +-2 std of a normal."""
    s = cfg.z_scale
    return (-s, s) if cfg.z_prior == "uniform" else (-2 * s, 2 * s)


def traversal_latents(cfg, dims=None, steps: int = 10, reps: int = 1, seed: int = 0,
                      class_code: int = 0, device="cpu"):
    """Latents of a traversal: ``z`` (len(dims) * reps * steps, zn_dim), row-major: for each
    code j in ``dims`` and each base draw r (seeded by ``seed``), ``steps`` latents equal to
    draw r except ``z[:, j]`` = ``linspace(lo, hi, steps)``. ``c``: ``class_code`` for all
    (None without a class code)."""
    dims = default_dims(cfg) if dims is None else list(dims)
    bad = [d for d in dims if not 0 <= d < cfg.zn_dim]
    if bad or not dims:
        raise UserError(f"--dims={dims}: give entries of z in 0..{cfg.zn_dim - 1}.")
    if steps < 1 or reps < 1:
        raise UserError(f"--steps={steps} and --reps={reps} must be >= 1.")
    if cfg.zc_dim and not 0 <= class_code < cfg.zc_dim:
        raise UserError(f"--class_code={class_code}: give a code in 0..{cfg.zc_dim - 1}.")
    g = torch.Generator().manual_seed(seed)
    base = sample_z(reps, cfg.zn_dim, "cpu", g, cfg.z_prior, cfg.z_scale)  # (reps, zn_dim)
    lo, hi = value_range(cfg)
    values = torch.linspace(lo, hi, steps)
    z = base[None, :, None, :].repeat(len(dims), 1, steps, 1)  # (dims, reps, steps, zn_dim)
    for k, j in enumerate(dims):
        z[k, :, :, j] = values
    z = z.reshape(-1, cfg.zn_dim)
    c = torch.full((len(z),), class_code, dtype=torch.int64) if cfg.zc_dim else None
    return z.to(device), (None if c is None else c.to(device))


@torch.no_grad()
def traversal_images(G, cfg, device, **kw) -> torch.Tensor:
    """G's images of ``traversal_latents(cfg, **kw)`` in [0, 1] (G in eval mode: BatchNorm's
    running statistics), (rows * steps, C, H, W) on the CPU."""
    z, c = traversal_latents(cfg, device=device, **kw)
    was = G.training
    G.eval()
    try:
        x = torch.cat([G(z[i:i + 500], None if c is None else c[i:i + 500]).float().cpu()
                       for i in range(0, len(z), 500)])
    finally:
        G.train(was)
    lo, hi = DATASETS[cfg.dataset].image_range
    return (x - lo) / (hi - lo)


def save_traversal(G, cfg, path: str, device, steps: int = 10, **kw) -> torch.Tensor:
    """Write the traversal PNG (one row per code and base draw, ``steps`` columns) to ``path``.
    Returns the images."""
    from torchvision.utils import save_image

    x = traversal_images(G, cfg, device, steps=steps, **kw)
    save_image(x, path, nrow=steps, padding=2, pad_value=1.0)
    return x


def _free_path(path: str) -> str:
    """``path``, or ``stem-1.ext``, ``stem-2.ext``, ... when it exists: never overwrite."""
    stem, ext = os.path.splitext(path)
    n = 1
    while os.path.exists(path):
        path, n = f"{stem}-{n}{ext}", n + 1
    return path


def save_samples(G, cfg, path: str, device, n_per_class: int = 10) -> None:
    """The sample grid of a noise-to-image G: rows of class codes (``sampling.save_grid``),
    or, without a class code (``zc_dim`` 0), a traversal with ``n_per_class`` steps per code."""
    if cfg.zc_dim:
        save_grid(G, cfg, path, device, n_per_class)
    else:
        save_traversal(G, cfg, path, device, steps=n_per_class)


def save_method_samples(nets, G, cfg, path: str, device, n_per_class: int = 10,
                        data: dict | None = None) -> None:
    """A run's sample grid (at each evaluation, and in the comparison's report): for a method
    that splits images into specified and unspecified codes (Mathieu16; its G is their decoder)
    its swap grid of test images (``data`` or read from disk), else the method's own grid
    (``Method.sample_grid``: ConGAN's rows of representations), else ``save_samples`` of
    ``G``. Written whole or not at all
    (``write_file``: a full disk raises ``WriteFailed``)."""
    method = METHODS[cfg.method]

    def write(tmp):
        if has_split_codes(cfg):
            save_swap_grid(nets, cfg, tmp, device, data)
        elif not method.sample_grid(G, cfg, tmp, device):
            save_samples(G, cfg, tmp, device, n_per_class)

    write_file(path, write)


def write_figures(checkpoint: str, out: str | None = None, device="auto", steps: int = 10,
                  dims=None, reps: int = 1, seed: int = 0, class_code: int = 0) -> dict:
    """The traversal (and, with a class code, the class-code grid) of a checkpoint's G.
    Returns ``{"traversal": path, "classgrid": path (with a class code), "dims": [...]}``."""
    from ..device import pick_device

    G, cfg = load_generator(checkpoint, device)
    dev = pick_device(device)
    stem = os.path.splitext(os.path.basename(checkpoint))[0]
    folder = out or os.path.dirname(os.path.abspath(checkpoint))
    os.makedirs(folder, exist_ok=True)
    dims = default_dims(cfg) if dims is None else list(dims)
    res = {"dims": dims, "range": list(value_range(cfg))}
    res["traversal"] = _free_path(os.path.join(folder, f"{stem}.traversal.png"))
    save_traversal(G, cfg, res["traversal"], dev, steps=steps, dims=dims, reps=reps, seed=seed,
                   class_code=class_code)
    if cfg.zc_dim:
        res["classgrid"] = _free_path(os.path.join(folder, f"{stem}.classgrid.png"))
        save_grid(G, cfg, res["classgrid"], dev, steps)
    return res


@cli_guard
def main(argv=None) -> dict:
    from ..config import parse_overrides

    opts = parse_overrides(sys.argv[1:] if argv is None else argv)
    allowed = {"checkpoint", "out", "steps", "dims", "reps", "seed", "class_code", "device"}
    bad = sorted(set(opts) - allowed)
    if bad or "checkpoint" not in opts:
        raise UserError(f"usage: python -m codegan.evaluation.traversal --checkpoint=PATH "
                        f"[--out=DIR] [--steps=10] [--dims=0,1,2] [--reps=1] [--seed=0] "
                        f"[--class_code=0] [--device=auto]"
                        + (f"; unknown option --{bad[0]}" if bad else ""))
    dims = opts.get("dims")
    if dims is not None:
        dims = [dims] if isinstance(dims, int) else [int(d) for d in str(dims).split(",") if d]
    res = write_figures(str(opts["checkpoint"]), opts.get("out"), opts.get("device", "auto"),
                        int(opts.get("steps", 10)), dims, int(opts.get("reps", 1)),
                        int(opts.get("seed", 0)), int(opts.get("class_code", 0)))
    lo, hi = res["range"]
    print(f"traversal (rows: codes {res['dims']}, each over [{lo:g}, {hi:g}]): {res['traversal']}")
    if "classgrid" in res:
        print(f"class-code grid (row c = class code c): {res['classgrid']}")
    return res


if __name__ == "__main__":
    main()
