"""Generated images for the IS / FID protocol: made by G, stored as ``.npy``, read back checked.

File format (what ``test/sample_fake_images2npy.py`` writes and ``test/test_IS&FID.py`` reads):

- ``<name>.npy``: uint8 (N, H, W, C), values in [0, 255], C = 1 for gray datasets (kept
  1-channel; the Inception side replicates it to 3) or 3 for RGB.
- ``<name>_codes.npy``: int64 (N,), the class code ``c`` each image was generated from, in
  0..zc_dim-1, same order.
"""

from __future__ import annotations

import hashlib
import os
import sys

import numpy as np

from codegan.errors import UserError, write_file



def file_digest(path: str, algorithm: str = "md5") -> str:
    """Hex digest of a file (``hashlib`` algorithm name), read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

def codes_path_for(images_path: str) -> str:
    """``fakes.npy`` -> ``fakes_codes.npy`` (the class codes beside the images)."""
    root, ext = os.path.splitext(images_path)
    return f"{root}_codes{ext or '.npy'}"


def generate_fakes(G, zn_dim: int, zc_dim: int, image_range, num: int, *, batch_size: int = 500,
                   seed: int = 0, device="cpu", progress: bool = False,
                   uint8: str = "truncate", prior: str = "normal", scale: float = 1.0):
    """Draw ``num`` images from ``G``; return ``(images, codes)``.

    ``images``: uint8 (num, H, W, C) in [0, 255] (G's float output in ``image_range`` mapped
    linearly, clamped, then truncated as the official sampler does, or rounded with
    ``uint8="round"``). ``codes``: int64 (num,), uniform over 0..zc_dim-1. ``prior``, ``scale``:
    the run's prior of ``z`` (settings ``z_prior``, ``z_scale``).

    All latents are drawn up front on the CPU from a generator seeded with ``seed``, so the
    result depends on ``seed`` alone, not on ``batch_size`` or ``device``.
    """
    import torch

    from codegan.data.datasets import to_uint8
    from codegan.latent import sample_latent

    if num < 1 or batch_size < 1:
        raise UserError(f"--num and --batch_size must be >= 1; got {num} and {batch_size}.")
    g = torch.Generator().manual_seed(seed)
    z, c = sample_latent(num, zn_dim, zc_dim, "cpu", g, prior, scale)
    out = None
    starts = range(0, num, batch_size)
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc="generating", unit="batch", file=sys.stderr)
    with torch.no_grad():
        for s in starts:
            cb = None if c is None else c[s:s + batch_size].to(device)  # None: no class code
            x = G(z[s:s + batch_size].to(device), cb)
            if x.ndim != 4:
                raise UserError(f"G returned shape {tuple(x.shape)}, not images (B, C, H, W).")
            x = to_uint8(x.float().cpu(), image_range, uint8).permute(0, 2, 3, 1).numpy()  # NHWC
            if out is None:
                out = np.empty((num, *x.shape[1:]), np.uint8)
            out[s:s + len(x)] = x
    if c is None:  # no class code (zc_dim 0): every image's code is -1
        return out, np.full(num, -1, np.int64)
    return out, c.numpy().astype(np.int64)


def save_fakes(path: str, images: np.ndarray, codes: np.ndarray, overwrite: bool = False):
    """Write ``images`` to ``path`` and ``codes`` to ``codes_path_for(path)``; refuse to
    replace existing files unless ``overwrite``. Returns both paths."""
    if not path.endswith(".npy"):
        raise UserError(f"--out={path} must end in .npy.")
    cpath = codes_path_for(path)
    for p in (path, cpath):
        if os.path.exists(p) and not overwrite:
            raise UserError(f"{p} already exists; choose another --out or pass --overwrite.")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_file(path, lambda tmp: np.save(tmp, images))
    write_file(cpath, lambda tmp: np.save(tmp, codes))
    return path, cpath


def check_images(images, name: str = "images") -> None:
    """Reject anything but uint8 (N, H, W, C) with C in {1, 3}, with a message naming the fix."""
    if not isinstance(images, np.ndarray):
        raise UserError(f"{name} must be a NumPy array, got {type(images).__name__}.")
    if images.dtype != np.uint8:
        hint = ""
        if np.issubdtype(images.dtype, np.floating):
            hint = (" Float images in [0, 1] or [-1, 1] must be scaled to [0, 255] and "
                    "rounded to uint8 first (sample_fake_images2npy.py writes them so).")
        raise UserError(f"{name} must be uint8 in [0, 255]; got dtype {images.dtype}.{hint}")
    if images.ndim != 4:
        raise UserError(f"{name} must be 4-D (N, H, W, C); got shape {images.shape}.")
    n, h, w, c = images.shape
    if c not in (1, 3):
        layout = (" It looks channels-first (N, C, H, W): transpose it with "
                  "x.transpose(0, 2, 3, 1).") if images.shape[1] in (1, 3) else ""
        raise UserError(f"{name} must be channels-last (N, H, W, C) with C = 1 (gray) or 3 "
                        f"(RGB); got shape {images.shape}.{layout}")
    if n == 0 or h < 2 or w < 2:
        raise UserError(f"{name} has shape {images.shape}: no images, or images too small.")


def load_fakes(path: str, num: int, codes_path: str | None = None):
    """Read the first ``num`` fakes of ``path`` (and their codes when the codes file exists).

    Returns ``(images uint8 (num, H, W, C), codes int64 (num,) or None, codes_path)``. Wrong
    files (shape, dtype, value range, too few images, codes that do not match) raise UserError.
    """
    if not os.path.isfile(path):
        raise UserError(f"--fakes={path}: no such file. Make it with "
                        f"test/sample_fake_images2npy.py --checkpoint=... --out={path}")
    try:
        images = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"--fakes={path} is not a readable .npy array ({e}).") from None
    check_images(images, f"--fakes={path}")
    total = images.shape[0]
    if num < 1:
        raise UserError(f"--num must be >= 1, got {num}.")
    if total < num:
        raise UserError(f"--fakes={path} holds {total} images, fewer than the "
                        f"--num={num} asked for. Generate more (sample_fake_images2npy.py "
                        f"--num={num}) or lower --num (the protocol uses 50000).")
    images = np.ascontiguousarray(images[:num])
    if images.max() <= 1:
        raise UserError(f"--fakes={path}: every pixel is 0 or 1, so the images were cast to "
                        f"uint8 from floats in [0, 1] without scaling to [0, 255]. Regenerate "
                        f"them with sample_fake_images2npy.py.")
    explicit = codes_path is not None
    codes_path = codes_path or codes_path_for(path)
    if not os.path.isfile(codes_path):
        if explicit:
            raise UserError(f"--codes={codes_path}: no such file.")
        return images, None, codes_path
    try:
        codes = np.load(codes_path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"{codes_path} is not a readable .npy array ({e}).") from None
    if codes.ndim != 1 or not np.issubdtype(codes.dtype, np.integer):
        raise UserError(f"{codes_path} must hold integer class codes (N,); got {codes.dtype} "
                        f"{codes.shape}.")
    if len(codes) != total:
        raise UserError(f"{codes_path} holds {len(codes)} codes but {path} holds {total} "
                        f"images: they are not a pair.")
    if codes.min() < 0:
        raise UserError(f"{codes_path} holds negative class codes.")
    return images, codes[:num].astype(np.int64), codes_path
