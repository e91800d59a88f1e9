"""The augmentation ``T`` of ``L_c``, on float image batches, vectorised.

Random resized crop and horizontal flip are one affine resampling (``grid_sample``) of the whole
batch. ``per_sample=True`` draws the crop/flip parameters per image; ``per_sample=False`` draws
one set for the whole batch, which is what the official code did (torchvision transforms applied
to a 4-D tensor). Parameters come from the global torch RNG, so checkpoints that save it resume
exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def crop_boxes(n: int, height: int, width: int, scale, ratio, device="cpu", tries: int = 10):
    """Random-resized-crop boxes drawn as torchvision's ``RandomResizedCrop.get_params`` does
    (area fraction ~ U(scale), log aspect ratio ~ U(log ratio), first of ``tries`` that fits,
    else the whole image), for ``n`` images at once.

    Returns float tensors ``top, left, h, w`` of shape (n,), in pixels.
    """
    area = height * width
    target = area * torch.empty(n, tries, device=device).uniform_(scale[0], scale[1])
    log_r = torch.empty(n, tries, device=device).uniform_(math.log(ratio[0]), math.log(ratio[1]))
    r = torch.exp(log_r)
    w = torch.sqrt(target * r).round()
    h = torch.sqrt(target / r).round()
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.where(ok.any(1), ok.float().argmax(1), torch.full((n,), -1, device=device))
    rows = torch.arange(n, device=device)
    pick = first.clamp(min=0)
    w = torch.where(first >= 0, w[rows, pick], torch.full((n,), float(width), device=device))
    h = torch.where(first >= 0, h[rows, pick], torch.full((n,), float(height), device=device))
    top = torch.floor(torch.rand(n, device=device) * (height - h + 1))
    left = torch.floor(torch.rand(n, device=device) * (width - w + 1))
    return top, left, h, w


def crop_flip(x: torch.Tensor, top, left, h, w, flip, edge: str = "box") -> torch.Tensor:
    """Crop box (top, left, h, w) of each image, resized bilinearly back to the input size, then
    mirrored where ``flip``. x: (n, C, H, W); box tensors (n,); flip bool (n,).

    ``edge``: what a sampling position between the box's outermost pixel centres and the box's
    edge reads. "box": the box's outermost pixel (positions clamped to the box), as torchvision's
    crop-then-resize does (``F.resized_crop``: the resize never sees beyond the crop).
    "image": a blend with the pixel just outside the box (one ``grid_sample`` of the whole image
    with border padding), which only the outermost ring of output pixels can reach."""
    n, _, height, width = x.shape
    sx = w / width
    sy = h / height
    # output pixel centre t in [-1, 1] samples input x_norm = t * w/W + (2*left + w)/W - 1
    tx = (2 * left + w) / width - 1
    ty = (2 * top + h) / height - 1
    sx = torch.where(flip, -sx, sx)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = sx
    theta[:, 0, 2] = tx
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if edge == "box":
        # pixel i's centre is at (2 i + 1) / W - 1 (align_corners=False): keep the positions
        # between the centres of the box's first and last pixels
        lo = torch.stack([(2 * left + 1) / width - 1, (2 * top + 1) / height - 1], -1)
        hi = torch.stack([(2 * (left + w) - 1) / width - 1, (2 * (top + h) - 1) / height - 1], -1)
        grid = torch.minimum(torch.maximum(grid, lo.view(n, 1, 1, 2).to(grid.dtype)),
                             hi.view(n, 1, 1, 2).to(grid.dtype))
    elif edge != "image":
        raise ValueError(f"edge={edge!r}: 'box' or 'image'")
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class Augment:
    """``T``: random resized crop (``crop_scale``), horizontal flip, and the colour transforms of
    ``codegan.data.augment_color`` when configured. Input and output: float (n, C, H, W)."""

    def __init__(self, crop_scale=None, crop_ratio=(0.75, 4 / 3), hflip=False, color_jitter=None,
                 color_jitter_p=0.8, grayscale_p=0.0, per_sample=False, image_range=(0, 1),
                 crop_edge="box"):
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.hflip = hflip
        self.color_jitter = color_jitter
        self.color_jitter_p = color_jitter_p
        self.grayscale_p = grayscale_p
        self.per_sample = per_sample
        self.crop_edge = crop_edge  # crop_flip's ``edge``
        self.image_range = tuple(image_range)  # the colour transforms work on [0, 1]

    @classmethod
    def from_config(cls, cfg) -> "Augment":
        from .datasets import DATASETS

        return cls(cfg.aug_crop_scale, cfg.aug_crop_ratio, cfg.aug_hflip, cfg.aug_color_jitter,
                   cfg.aug_color_jitter_p, cfg.aug_grayscale_p, cfg.aug_per_sample,
                   DATASETS[cfg.dataset].image_range, cfg.aug_crop_edge)

    def draw(self, n: int, height: int, width: int, channels: int, device, dtype) -> dict:
        """The random parameters of one call on ``n`` images (one set, or one per image with
        ``per_sample``), from the global torch RNG in this order: crop box, flip, colour.
        Returns {"box": (top, left, h, w) float tensors (n,) or None, "flip": bool (n,) or None,
        "color": ``augment_color.draw_color_params``'s dict or None}."""
        draws = n if self.per_sample else 1
        out = {"box": None, "flip": None, "color": None}
        if self.crop_scale is not None or self.hflip:
            if self.crop_scale is not None:
                box = crop_boxes(draws, height, width, self.crop_scale, self.crop_ratio, device)
            else:
                box = (torch.zeros(draws, device=device), torch.zeros(draws, device=device),
                       torch.full((draws,), float(height), device=device),
                       torch.full((draws,), float(width), device=device))
            flip = (torch.rand(draws, device=device) < 0.5) if self.hflip else \
                torch.zeros(draws, dtype=torch.bool, device=device)
            if draws == 1:
                box = tuple(b.expand(n) for b in box)
                flip = flip.expand(n)
            out["box"], out["flip"] = tuple(b.to(dtype) for b in box), flip
        if self.color_jitter is not None or self.grayscale_p > 0:
            from .augment_color import draw_color_params

            out["color"] = draw_color_params(draws, self.color_jitter, self.color_jitter_p,
                                             self.grayscale_p, channels, device, dtype)
        return out

    def apply(self, x: torch.Tensor, params: dict) -> torch.Tensor:
        """``T`` with the parameters ``params`` (``draw``) on x, float (n, C, H, W) in
        ``image_range``; differentiable in x."""
        if params["box"] is not None:
            x = crop_flip(x, *params["box"], params["flip"], self.crop_edge)
        if params["color"] is not None:
            from .augment_color import apply_color_in_range

            x = apply_color_in_range(x, params["color"], self.color_jitter, self.image_range)
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, channels, height, width = x.shape
        return self.apply(x, self.draw(n, height, width, channels, x.device, x.dtype))
