"""Colour transforms of ``T`` (CIFAR-10): colour jitter and random grayscale, vectorised.

They act as torchvision's ``RandomApply([ColorJitter(b, c, s, h)], p)`` followed by
``RandomGrayscale(p)`` do, on a whole float batch at once:

- jitter factors: brightness ``~ U[max(0, 1 - b), 1 + b]``, contrast and saturation likewise,
  hue shift ``~ U[-h, h]``; a component whose strength is 0 is skipped; the four are applied in
  a random order.
- brightness ``f * x``; contrast ``f * x + (1 - f) * mean(gray(x))`` (mean over the image);
  saturation ``f * x + (1 - f) * gray(x)``; hue: rotate the HSV hue by ``f`` (mod 1). Each result
  is clamped to [0, 1]. ``gray = 0.2989 R + 0.587 G + 0.114 B``. On 1-channel images saturation,
  hue and grayscale change nothing (as in torchvision).

``per_sample=False`` draws one set of parameters (apply or not, factors, order, grayscale or
not) for the whole batch, as the official code did by calling torchvision transforms on a 4-D
tensor; ``per_sample=True`` draws them per image. The global torch RNG supplies every draw.
"""

from __future__ import annotations

import torch

_GRAY = (0.2989, 0.587, 0.114)  # torchvision's luma weights
# sector i of the hue circle picks (R, G, B) from (v, p, q, t)
_SECTORS = ((0, 3, 1), (2, 0, 1), (1, 0, 3), (1, 2, 0), (3, 1, 0), (0, 1, 2))
_CONSTS: dict = {}


def _const(values, device, dtype) -> torch.Tensor:
    """A constant tensor, made once per device and dtype: copied from the host only the first
    time (a host copy cannot be recorded in a CUDA graph, and the warm-up's eager iterations
    make it before a capture)."""
    key = (values, str(device), dtype)
    if key not in _CONSTS:
        _CONSTS[key] = torch.tensor(values, dtype=dtype, device=device)
    return _CONSTS[key]


def _capturing() -> bool:
    """Inside a CUDA graph capture, where no value may be read on the host."""
    return torch.cuda.is_available() and torch.cuda.is_current_stream_capturing()


def grayscale(u: torch.Tensor) -> torch.Tensor:
    """(n, 3, H, W) RGB in [0, 1] -> (n, 1, H, W) luma; a 1-channel input is returned as is."""
    if u.shape[1] == 1:
        return u
    w = _const(_GRAY, u.device, u.dtype).view(1, 3, 1, 1)
    return (u * w).sum(1, keepdim=True)


def rgb_to_hsv(u: torch.Tensor) -> torch.Tensor:
    """(n, 3, H, W) RGB in [0, 1] -> HSV, each channel in [0, 1] (hue as a fraction of a turn)."""
    r, g, b = u.unbind(1)
    maxc, _ = u.max(1)
    minc, _ = u.min(1)
    span = maxc - minc
    flat = span == 0  # gray pixels: hue and saturation 0
    s = torch.where(flat, torch.zeros_like(span), span / torch.where(maxc == 0, 1.0, maxc))
    d = torch.where(flat, torch.ones_like(span), span)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    is_r = maxc == r
    is_g = (maxc == g) & ~is_r
    h = torch.where(is_r, bc - gc, torch.where(is_g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(flat, torch.zeros_like(h), h)
    h = torch.remainder(h / 6.0, 1.0)
    return torch.stack([h, s, maxc], 1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Inverse of ``rgb_to_hsv``: (n, 3, H, W) HSV in [0, 1] -> RGB in [0, 1]."""
    h, s, v = hsv.unbind(1)
    h6 = h * 6.0
    i = torch.floor(h6)
    f = h6 - i
    i = torch.remainder(i, 6).long()
    p = (v * (1 - s)).clamp(0, 1)
    q = (v * (1 - s * f)).clamp(0, 1)
    t = (v * (1 - s * (1 - f))).clamp(0, 1)
    cand = torch.stack([v, p, q, t], 1)  # (n, 4, H, W)
    idx = _const(_SECTORS, hsv.device, torch.int64)[i]  # (n, H, W, 3)
    return torch.gather(cand, 1, idx.permute(0, 3, 1, 2))


def adjust_brightness(u, f):
    return (u * f).clamp(0, 1)


def adjust_contrast(u, f):
    mean = grayscale(u).mean(dim=(1, 2, 3), keepdim=True)
    return (f * u + (1 - f) * mean).clamp(0, 1)


def adjust_saturation(u, f):
    if u.shape[1] == 1:
        return u
    return (f * u + (1 - f) * grayscale(u)).clamp(0, 1)


def adjust_hue(u, f):
    """Rotate the hue by ``f`` (in turns, |f| <= 0.5); ``f`` broadcastable to (n, 1, 1, 1)."""
    if u.shape[1] == 1:
        return u
    hsv = rgb_to_hsv(u)
    h = torch.remainder(hsv[:, :1] + f, 1.0)
    return hsv_to_rgb(torch.cat([h, hsv[:, 1:]], 1))


_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def _factors(draws: int, jitter, device, dtype):
    """(draws, 4) factors: brightness, contrast, saturation multipliers and the hue shift;
    a zero strength gives the identity (1 for multipliers, 0 for hue)."""
    out = torch.empty(draws, 4, device=device, dtype=dtype)
    for j, strength in enumerate(jitter):
        if j < 3:
            lo, hi = max(0.0, 1.0 - strength), 1.0 + strength
        else:
            lo, hi = -strength, strength
        out[:, j] = torch.empty(draws, device=device, dtype=dtype).uniform_(lo, hi) \
            if strength > 0 else (1.0 if j < 3 else 0.0)
    return out


def draw_color_params(draws: int, jitter, jitter_p: float, grayscale_p: float, channels: int,
                      device, dtype) -> dict:
    """The random parameters of one ``color_transforms`` call, from the global torch RNG, in
    this order: apply the jitter or not, its factors, its order, grayscale or not.

    Returns {"apply": bool (draws,) or None, "factors": (draws, 4) or None, "order": long
    (draws, 4) or None (order[:, slot] = the transform at that slot: 0 brightness, 1 contrast,
    2 saturation, 3 hue), "gray": bool (draws,) or None}; None where nothing is drawn."""
    out = {"apply": None, "factors": None, "order": None, "gray": None}
    if jitter is not None and any(v > 0 for v in jitter):
        out["apply"] = torch.rand(draws, device=device) < jitter_p
        out["factors"] = _factors(draws, jitter, device, dtype)
        out["order"] = torch.argsort(torch.rand(draws, 4, device=device), dim=1)
    if grayscale_p > 0 and channels == 3:
        out["gray"] = torch.rand(draws, device=device) < grayscale_p
    return out


def apply_color(u: torch.Tensor, params: dict, jitter) -> torch.Tensor:
    """The colour transforms of ``params`` (``draw_color_params``, one set or one per image)
    on ``u``, float (n, C, H, W) in [0, 1]. Differentiable in ``u``."""
    n = u.shape[0]
    _const(_GRAY, u.device, u.dtype), _const(_SECTORS, u.device, torch.int64)  # before a capture

    def expand(t):  # (draws,) -> (n, 1, 1, 1)
        return t.view(-1, 1, 1, 1).expand(n, 1, 1, 1) if t.numel() == 1 else t.view(-1, 1, 1, 1)

    if params["apply"] is not None:
        apply, fac, order = expand(params["apply"]), params["factors"], params["order"]
        active = [j for j in range(4) if jitter[j] > 0]
        for slot in range(4):
            for j in active:
                take = apply & expand(order[:, slot] == j)
                # skip a transform no image takes (the result is the same either way; a
                # capture cannot read the mask on the host, and computes it)
                if not _capturing() and not bool(take.any()):
                    continue
                done = _OPS[j](u, expand(fac[:, j]))
                u = torch.where(take, done, u)
    if params["gray"] is not None:
        take = expand(params["gray"])
        if _capturing() or bool(take.any()):
            u = torch.where(take, grayscale(u).expand_as(u), u)
    return u


def apply_color_in_range(x: torch.Tensor, params: dict, jitter, image_range) -> torch.Tensor:
    """``apply_color`` on x, float (n, C, H, W) in ``image_range`` ((0, 1) or (-1, 1)): the
    transforms are defined on [0, 1], so x is mapped there and back."""
    lo, hi = image_range
    return apply_color((x - lo) / (hi - lo), params, jitter) * (hi - lo) + lo


def color_transforms(x: torch.Tensor, jitter, jitter_p: float, grayscale_p: float,
                     per_sample: bool, image_range=(0, 1)) -> torch.Tensor:
    """Colour jitter (with probability ``jitter_p``) then random grayscale (``grayscale_p``).

    x: float (n, C, H, W) with C in {1, 3}, values in ``image_range`` ((0, 1) or (-1, 1));
    jitter: (brightness, contrast, saturation, hue) strengths or None. Returns a new tensor of
    the same shape and range. Differentiable in ``x`` (the parameters are random draws).
    """
    params = draw_color_params(x.shape[0] if per_sample else 1, jitter, jitter_p, grayscale_p,
                               x.shape[1], x.device, x.dtype)
    return apply_color_in_range(x, params, jitter, image_range)
