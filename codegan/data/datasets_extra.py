"""COIL-20, 3D-Chairs and 3D-Cars: readers for their public raw formats
(learninginvision/CoDeGAN@348d046).

``codegan.data.datasets`` registers each in ``DATASETS`` with the loaders below. These sets have
no train/test split in the paper's protocol (it clusters generated images, G-based): both splits
are the whole selected set.
``read_with_views`` also returns each image's view index (pose / rendering), from which the
evaluation classifier holds out views to measure its own accuracy.

- ``coil20``: COIL-20 processed, 20 objects x 72 poses, 128x128 gray, resized to 1x32x32 with
  antialiasing. Read from ``coil20.npz`` (keys ``images`` (N, S, S) uint8 of any square size S,
  ``labels`` 0..19, optional ``poses`` 0..71: the official code's file has images at 32x32 and no
  poses, which are then numbered by order within each object) or, if absent, from the public
  ``coil-20-proc/obj<N>__<pose>.png`` folder.
- ``chairs``: ``rendered_chairs/<model>/renders/image_<k>_p<pitch>_t<theta>_r<r>.png`` of Aubry
  et al. 2014 (62 azimuths x 2 elevations per model, 600x600 RGB, chair on white). The paper does
  not say which 10 models it used: ``chairs_models`` names them; null takes the first ``zc_dim``
  model folders in sorted order (our choice). Crop: the central 400x400 (``CHAIRS_CROP`` = 2/3 of
  the side) -- our choice, it drops the empty white margin around the chair -- then an
  antialiased resize to 3x64x64.
- ``cars``: ``cars/car_<NNN>_mesh.mat`` of Reed et al. 2015, array ``im`` of shape
  (128, 128, 3, 24, 4) (height, width, RGB, 24 azimuths, 4 elevations). ``cars_models`` are
  0-based indices into the release's 183 model names sorted (``cars/list.txt``; the official
  list [54, 141, 4, 7, 1, 25, 26, 24, 43, 23] indexes them in that order), so a folder holding
  only the selected models' files serves as well as the whole release; without ``list.txt``
  the indices go into the sorted ``.mat`` files there. Label ``i`` is the ``i``-th listed model.
  All 96 views, resized to 3x64x64 with antialiasing.

All images are uint8 (N, C, H, W); the training code maps them to [-1, 1].
"""

from __future__ import annotations

import glob
import os
import re
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import MissingData, UserError

CHAIRS_CROP = 2 / 3  # central crop side as a fraction of the 600x600 render
COIL20_URL = "https://www.cs.columbia.edu/CAVE/software/softlib/coil-20.php (coil-20-proc.zip)"
CHAIRS_URL = "https://www.di.ens.fr/willow/research/seeing3Dchairs/data/rendered_chairs.tar"
CARS_URL = "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz"
CARS_DEFAULT = (54, 141, 4, 7, 1, 25, 26, 24, 43, 23)

_COIL_PNG = re.compile(r"^obj(\d+)__(\d+)\.png$")
_CHAIR_PNG = re.compile(r"^image_(\d+)_p(\d+)_t(\d+)_r(\d+)\.png$")
_CAR_MAT = re.compile(r"^car_(\d+)_mesh\.mat$")


def resize_uint8(x: np.ndarray, size: int, chunk: int = 64) -> np.ndarray:
    """Antialiased bilinear resize of uint8 images (N, C, H, W) to (N, C, size, size), uint8.
    Chunked so large renders never sit in memory as one float array."""
    out = np.empty((len(x), x.shape[1], size, size), dtype=np.uint8)
    for i in range(0, len(x), chunk):
        t = torch.from_numpy(np.ascontiguousarray(x[i:i + chunk])).float()
        if t.shape[-2:] != (size, size):
            t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False)
        out[i:i + chunk] = t.round_().clamp_(0, 255).to(torch.uint8).numpy()
    return out


def _read_png(path: str, mode: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode))
    except OSError as e:
        raise UserError(f"{path} is not a readable PNG ({e}); replace the file.") from None


# -- COIL-20 -------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def read_coil20(root: str):
    """COIL-20 at 32x32: ``x`` uint8 (1440, 1, 32, 32), ``y`` int64 object 0..19,
    ``view`` int64 pose 0..71. From ``<root>/coil20.npz`` or ``<root>/coil-20-proc/``."""
    npz = os.path.join(root, "coil20.npz")
    if os.path.isfile(npz):
        try:
            with np.load(npz) as f:
                img, y = f["images"], f["labels"]
                view = f["poses"] if "poses" in f.files else None
        except (OSError, ValueError, KeyError) as e:
            raise UserError(f"{npz} could not be read ({e}); it must be an .npz with keys "
                            f"images (N, S, S) uint8, labels and optionally poses. Replace it.") \
                from None
        if img.ndim == 4 and 1 in (img.shape[1], img.shape[3]):  # (N, 1, S, S) or (N, S, S, 1)
            img = img.reshape(img.shape[0], *[d for d in img.shape[1:] if d != 1])
    else:
        folder = os.path.join(root, "coil-20-proc")
        files = sorted(f for f in (os.listdir(folder) if os.path.isdir(folder) else [])
                       if _COIL_PNG.match(f))
        if not files:
            raise MissingData(f"neither coil20.npz nor coil-20-proc/obj<N>__<pose>.png found; "
                              f"download coil-20-proc from {COIL20_URL}")
        keys = [tuple(int(v) for v in _COIL_PNG.match(f).groups()) for f in files]
        img = np.stack([_read_png(os.path.join(folder, f), "L") for f in files])
        y = np.array([k[0] - 1 for k in keys])  # obj1..obj20 -> 0..19
        view = np.array([k[1] for k in keys])
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if img.ndim != 3 or img.shape[1] != img.shape[2] or len(img) != len(y) or y.min() < 0 \
            or y.max() > 19:
        raise UserError(f"COIL-20 in {root} has an unexpected layout (images {img.shape}, "
                        f"labels {np.unique(y)}); expected (N, S, S) square images and objects "
                        f"0..19.")
    if view is None:  # the pose is the image's rank among its object's images, in file order
        view = np.zeros(len(y), dtype=np.int64)
        for k in range(20):
            view[y == k] = np.arange(int((y == k).sum()))
    if len(np.unique(y)) != 20:
        raise UserError(f"COIL-20 in {root} holds {len(np.unique(y))} objects, not 20; the "
                        f"folder is incomplete. Download coil-20-proc again from {COIL20_URL}.")
    x = resize_uint8(img[:, None].astype(np.uint8), 32)
    return x, y, np.asarray(view, dtype=np.int64)


# -- 3D-Chairs -----------------------------------------------------------------------------------
def chairs_model_folders(root: str) -> list:
    """Sorted names of the model folders of ``<root>/rendered_chairs`` that hold a renders/."""
    base = os.path.join(root, "rendered_chairs")
    if not os.path.isdir(base):
        return []
    return sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d, "renders")))


@lru_cache(maxsize=4)
def read_chairs(root: str, models: tuple | None = None, n_models: int = 10):
    """3D-Chairs at 64x64: ``x`` uint8 (N, 3, 64, 64), ``y`` int64 (label i = i-th model),
    ``view`` int64 (rank of the render within its model, ordered by pitch then theta).
    ``models``: folder names under rendered_chairs/; None takes the first ``n_models`` sorted."""
    available = chairs_model_folders(root)
    if not available:
        raise MissingData(f"no rendered_chairs/<model>/renders/ folders; download "
                          f"{CHAIRS_URL} and extract it there")
    if models is None:
        if len(available) < n_models:
            raise UserError(f"{root}/rendered_chairs holds {len(available)} chair models; "
                            f"{n_models} are needed. Extract the full rendered_chairs.tar.")
        models = tuple(available[:n_models])
    missing = [m for m in models if m not in available]
    if missing:
        raise UserError(f"chair model folder {missing[0]!r} (chairs_models in param.yml) is not "
                        f"in {root}/rendered_chairs; available e.g. {', '.join(available[:3])}. "
                        f"Fix chairs_models or set it to null (first folders in sorted order).")
    xs, ys, views = [], [], []
    for label, m in enumerate(models):
        folder = os.path.join(root, "rendered_chairs", m, "renders")
        found = []
        for f in os.listdir(folder):
            k = _CHAIR_PNG.match(f)
            if k:
                found.append((int(k.group(2)), int(k.group(3)), f))
        if not found:
            raise UserError(f"{folder} holds no image_<k>_p<pitch>_t<theta>_r<r>.png renders; "
                            f"extract {CHAIRS_URL} again.")
        found.sort()
        imgs = []
        for _, _, f in found:
            im = _read_png(os.path.join(folder, f), "RGB")
            h, w = im.shape[:2]
            side = int(round(min(h, w) * CHAIRS_CROP))
            top, left = (h - side) // 2, (w - side) // 2
            imgs.append(im[top:top + side, left:left + side].transpose(2, 0, 1))
        xs.append(resize_uint8(np.stack(imgs), 64))
        ys.append(np.full(len(imgs), label, dtype=np.int64))
        views.append(np.arange(len(imgs), dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(views)


# -- 3D-Cars -------------------------------------------------------------------------------------
def cars_files(root: str) -> list:
    """The model files that ``cars_models`` index: ``<root>/cars/<name>.mat`` for the names of
    ``cars/list.txt`` sorted (the release's 183 models, whether or not each file is there), or
    without ``list.txt`` the ``car_<NNN>_mesh.mat`` files there, sorted by name."""
    folder = os.path.join(root, "cars")
    if not os.path.isdir(folder):
        return []
    listed = os.path.join(folder, "list.txt")
    if os.path.isfile(listed):
        with open(listed) as f:
            names = sorted({n.strip() for n in f if n.strip()})
        return [os.path.join(folder, n if n.endswith(".mat") else n + ".mat") for n in names]
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if _CAR_MAT.match(f))


@lru_cache(maxsize=4)
def read_cars(root: str, models: tuple = CARS_DEFAULT):
    """3D-Cars at 64x64: ``x`` uint8 (N, 3, 64, 64) with N = 96 * len(models), ``y`` int64
    (label i = ``models[i]``), ``view`` int64 = azimuth * 4 + elevation (0..95). Reads only the
    selected models' files."""
    from scipy.io import loadmat

    files = cars_files(root)
    if not files:
        raise MissingData(f"no cars/car_<NNN>_mesh.mat files; download {CARS_URL}, extract it "
                          f"and put its data/cars folder there")
    if max(models) >= len(files):
        raise UserError(f"cars_models asks for model index {max(models)}, but {root}/cars "
                        f"{'lists' if _has_list(root) else 'holds'} {len(files)} models "
                        f"(indices 0..{len(files) - 1}); the official indices need the release's "
                        f"183 (its list.txt, or all its .mat files). Extract the full {CARS_URL}.")
    missing = [files[i] for i in models if not os.path.isfile(files[i])]
    if missing:
        raise UserError(f"cars_models selects {os.path.basename(missing[0])}"
                        f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}, "
                        f"which is not in {root}/cars; copy it there from the full release "
                        f"{CARS_URL} (its data/cars folder).")
    xs, ys = [], []
    for label, idx in enumerate(models):
        path = files[idx]
        try:
            im = loadmat(path)["im"]
        except Exception as e:  # scipy raises several types for a broken file
            raise UserError(f"{path} could not be read as a .mat with an 'im' array "
                            f"({type(e).__name__}: {e}); replace it.") from None
        if im.ndim != 5 or im.shape[2] != 3:
            raise UserError(f"{path}: 'im' has shape {im.shape}; expected (128, 128, 3, 24, 4) "
                            f"(height, width, RGB, azimuths, elevations).")
        if im.dtype != np.uint8:  # some copies hold floats in [0, 1]
            scale = 255.0 if im.max() <= 1.0 else 1.0
            im = np.clip(np.round(im.astype(np.float64) * scale), 0, 255).astype(np.uint8)
        n_az, n_el = im.shape[3], im.shape[4]
        # (H, W, 3, az, el) -> (az, el, 3, H, W) -> (az * el, 3, H, W): view = az * n_el + el
        views = im.transpose(3, 4, 2, 0, 1).reshape(n_az * n_el, 3, im.shape[0], im.shape[1])
        xs.append(resize_uint8(views, 64))
        ys.append(np.full(n_az * n_el, label, dtype=np.int64))
    x = np.concatenate(xs)
    view = np.tile(np.arange(len(xs[0]), dtype=np.int64), len(models))
    return x, np.concatenate(ys), view


def _has_list(root: str) -> bool:
    return os.path.isfile(os.path.join(root, "cars", "list.txt"))


# -- loaders -------------------------------------------------------------------------------------
def read_with_views(dataset: str, root: str, cfg=None):
    """``(x uint8 (N, C, H, W), y int64 (N,), view int64 (N,))`` of coil20 / chairs / cars,
    with the model selection of ``cfg`` (or the defaults)."""
    if dataset == "coil20":
        return read_coil20(root)
    if dataset == "chairs":
        models = getattr(cfg, "chairs_models", None) if cfg is not None else None
        return read_chairs(root, tuple(models) if models else None)
    if dataset == "cars":
        models = getattr(cfg, "cars_models", None) if cfg is not None else None
        return read_cars(root, tuple(models) if models else CARS_DEFAULT)
    raise ValueError(dataset)


def coil20_loader(root, split):
    x, y, _ = read_coil20(root)
    return x.copy(), y.copy()  # the cache keeps its own arrays


def chairs_loader(root, split, chairs_models=None):
    x, y, _ = read_chairs(root, tuple(chairs_models) if chairs_models else None)
    return x.copy(), y.copy()


def cars_loader(root, split, cars_models=CARS_DEFAULT):
    x, y, _ = read_cars(root, tuple(cars_models))
    return x.copy(), y.copy()
