"""dSprites (Matthey et al. 2017): the official factor grid, a procedural re-rendering of its
737,280 binary 64x64 images, and the reader of its npz (the real file or ours).

The grid is exact (deepmind/dsprites-dataset's metadata): factors colour, shape, scale,
orientation, posX, posY with sizes (1, 3, 6, 40, 32, 32); shape 1 square, 2 ellipse, 3 heart;
scale linspace(0.5, 1, 6); orientation linspace(0, 2 pi, 40) (both ends, so orientations 0 and
39 are one image); posX, posY linspace(0, 1, 32); image k has the mixed-radix factor classes of k
with posY fastest. The drawing is not: no generator code was published, so the geometry below
is an approximation (sprite centre 64 * (0.25 + 0.5 p), bounding size 0.45 * 64 * scale, rotate
then translate, pixel centres sampled once, no anti-aliasing; the ellipse 2:1; the heart the
parametric x = sin^3 t, y = 13 cos t - 5 cos 2t - 2 cos 3t - cos 4t; posY grows down the rows,
orientation turns counter-clockwise in (column, row) coordinates). Scores on it compare with
scores on the real set only approximately.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from ..errors import UserError

FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
URL = "https://github.com/deepmind/dsprites-dataset"
NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
SIZES = (1, 3, 6, 40, 32, 32)
N_IMAGES = 737_280
# the metadata author of a file this package rendered (not DeepMind's original)
AUTHOR = "codegan"
W = 64
# the approximate geometry (see the module docstring)
CENTRE_LO, CENTRE_SPAN = 0.25, 0.5  # centre = W * (CENTRE_LO + CENTRE_SPAN * position)
EXTENT = 0.45  # side of the sprite's bounding square at scale 1, as a fraction of W
_LOOKUP, _L = 1024, 1.25  # shape masks: _LOOKUP^2 cells over local [-_L, _L]^2 (shape in [-1, 1])


def possible_values() -> dict:
    """{factor name: float64 array of its values}, as the official metadata holds them."""
    return {"color": np.array([1.0]), "shape": np.array([1.0, 2.0, 3.0]),
            "scale": np.linspace(0.5, 1.0, 6), "orientation": np.linspace(0.0, 2 * np.pi, 40),
            "posX": np.linspace(0.0, 1.0, 32), "posY": np.linspace(0.0, 1.0, 32)}


def metadata() -> dict:
    """The official metadata's keys (descriptive texts are ours: this is a re-rendering)."""
    return {"date": "re-rendered by codegan.data.dsprites", "version": 1,
            "title": "dSprites (procedural re-rendering)",
            "description": f"Re-rendering of the dSprites grid with its official factors; not "
                           f"the original images (those: {URL}).",
            "author": AUTHOR, "latents_names": NAMES,
            "latents_sizes": np.array(SIZES, dtype=np.int64),
            "latents_possible_values": possible_values()}


def classes_of(flat) -> np.ndarray:
    """Factor classes (n, 6) int64 of flat image indices (n,): mixed radix, posY fastest."""
    return np.stack(np.unravel_index(np.asarray(flat, dtype=np.int64), SIZES), 1).astype(np.int64)


def values_of(classes: np.ndarray) -> np.ndarray:
    """Factor values (n, 6) float64 of factor classes (n, 6)."""
    pv = possible_values()
    return np.stack([pv[name][classes[:, i]] for i, name in enumerate(NAMES)], 1)


def _shape_masks() -> np.ndarray:
    """(3, _LOOKUP, _LOOKUP) bool: square, ellipse, heart over local coordinates [-_L, _L]^2
    (axis 0 = u along the sprite's rows' direction after rotation, axis 1 = v)."""
    from matplotlib.path import Path  # why here: only rendering needs it
    c = (np.arange(_LOOKUP) + 0.5) / _LOOKUP * 2 * _L - _L
    v, u = np.meshgrid(c, c, indexing="ij")  # v down the rows, u along the columns
    square = (np.abs(u) <= 1) & (np.abs(v) <= 1)
    ellipse = u ** 2 + (v / 0.5) ** 2 <= 1
    t = np.linspace(0, 2 * np.pi, 2000)
    hx = np.sin(t) ** 3
    hy = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))  # lobes up
    hy = (hy - (hy.max() + hy.min()) / 2) / ((hy.max() - hy.min()) / 2)  # fit [-1, 1]
    inside = Path(np.c_[hx, hy]).contains_points(np.c_[u.ravel(), v.ravel()])
    return np.stack([square, ellipse, inside.reshape(u.shape)])


_MASKS = None


def render(flat, chunk: int = 1024) -> np.ndarray:
    """Images (n, 64, 64) uint8 in {0, 1} of flat indices (n,) into the grid."""
    global _MASKS
    if _MASKS is None:
        _MASKS = _shape_masks().reshape(3, -1)
    cls = classes_of(flat)
    vals = values_of(cls)
    out = np.empty((len(cls), W, W), dtype=np.uint8)
    grid = np.arange(W, dtype=np.float32) + 0.5  # pixel centres
    for s in range(0, len(cls), chunk):
        val, shape = vals[s:s + chunk], cls[s:s + chunk, 1]
        half = (EXTENT * W * val[:, 2] / 2).astype(np.float32)
        th = val[:, 3]
        cos, sin = (np.cos(th) / half).astype(np.float32), (np.sin(th) / half).astype(np.float32)
        cx = (W * (CENTRE_LO + CENTRE_SPAN * val[:, 4])).astype(np.float32)
        cy = (W * (CENTRE_LO + CENTRE_SPAN * val[:, 5])).astype(np.float32)
        dx = grid[None, None, :] - cx[:, None, None]  # (n, 1, W) columns
        dy = grid[None, :, None] - cy[:, None, None]  # (n, W, 1) rows
        # why rotate by -theta: a pixel is inside the turned sprite when its turned-back
        # position is inside the upright one; scaled so the sprite spans [-1, 1]
        u = cos[:, None, None] * dx + sin[:, None, None] * dy
        v = cos[:, None, None] * dy - sin[:, None, None] * dx
        k = _LOOKUP / (2 * _L)
        iu = np.clip(((u + _L) * k).astype(np.int32), 0, _LOOKUP - 1)
        iv = np.clip(((v + _L) * k).astype(np.int32), 0, _LOOKUP - 1)
        flat_cell = iv * _LOOKUP + iu + (shape.astype(np.int32) * _LOOKUP * _LOOKUP)[:, None, None]
        out[s:s + chunk] = _MASKS.ravel()[flat_cell]
    return out


def write_subset(out_dir: str, idx) -> str:
    """The grid images of flat indices ``idx`` (sorted), rendered, under the official FILENAME
    and keys (small files for tests and checks; ``write_npz`` writes the grid). Returns
    ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    idx = np.sort(np.asarray(idx))
    cls = classes_of(idx)
    np.savez(os.path.join(out_dir, FILENAME), imgs=render(idx), latents_values=values_of(cls),
             latents_classes=cls, metadata=np.array(metadata(), dtype=object))
    return str(out_dir)


def write_npz(out_dir: str, limit: int | None = None, chunk: int = 8192, progress=None) -> str:
    """Render the grid (the first ``limit`` images when given) into ``out_dir`` with the official
    keys: imgs (n, 64, 64) uint8, latents_values (n, 6) float64, latents_classes (n, 6) int64,
    metadata (a pickled dict). The full grid goes under the official FILENAME; a subset under
    ``dsprites_first<N>_64x64.npz`` so it is never mistaken for the whole set. Refuses to
    overwrite; writes to a temporary name first so an interrupted run leaves no half file.
    Returns the file's path."""
    n = N_IMAGES if limit is None else max(0, min(int(limit), N_IMAGES))
    name = FILENAME if n == N_IMAGES else f"dsprites_first{n}_64x64.npz"
    path = os.path.join(out_dir, name)
    if os.path.exists(path):
        raise UserError(f"{path} exists; remove it first or choose another --out")
    os.makedirs(out_dir, exist_ok=True)
    tmp = path + ".part"
    cls = classes_of(np.arange(n))
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        with zf.open("imgs.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "|u1", "fortran_order": False, "shape": (n, W, W)})
            for s in range(0, n, chunk):
                f.write(render(np.arange(s, min(s + chunk, n))).tobytes())
                if progress:
                    progress(min(s + chunk, n), n)
        for key, arr in (("latents_values", values_of(cls)), ("latents_classes", cls),
                         ("metadata", np.array(metadata(), dtype=object))):
            with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, arr, allow_pickle=True)
    os.replace(tmp, path)
    return path


def missing_message(where: str) -> str:
    return (f"dSprites not found at {where}. Download {FILENAME} from {URL} and put it in that "
            f"folder (the data root: --data_root, else $CODEGAN_DATA, else <repo>/data), or "
            f"render an approximation there with `python dSprites/make_dsprites.py --out=DIR`.")


def load(path: str) -> dict:
    """Read a dSprites npz: ``path`` the file, or a folder holding FILENAME. Returns {imgs (n, 64,
    64) uint8 in {0,1}, latents_values (n, 6) float64, latents_classes (n, 6) int64, metadata
    dict}; images stay as stored (n = 737,280 for the full set)."""
    file = os.path.join(path, FILENAME) if os.path.isdir(path) else path
    if not os.path.exists(file):
        raise UserError(missing_message(path))
    try:
        z = np.load(file, allow_pickle=True)  # why pickle: the official metadata is a dict
        out = {"imgs": z["imgs"], "latents_values": z["latents_values"],
               "latents_classes": z["latents_classes"].astype(np.int64),
               "metadata": z["metadata"][()]}
    except Exception as e:  # numpy and zipfile raise several types for a broken file
        raise UserError(f"{file} could not be read as a dSprites npz ({e}); it needs keys imgs, "
                        f"latents_values, latents_classes, metadata. Get it again from {URL}.")
    if out["imgs"].shape[1:] != (W, W) or out["latents_classes"].shape != (len(out["imgs"]), 6):
        raise UserError(f"{file}: imgs {out['imgs'].shape} and latents_classes "
                        f"{out['latents_classes'].shape} are not dSprites' (n, 64, 64), (n, 6)")
    return out


class DSpritesFactors:
    """The ground-truth sampler of ``codegan.metrics.disentanglement``: ``images(idx)`` gives
    (n, 1, 64, 64) uint8 in {0, 1} for factor classes (n, 6), read from the full set's ``imgs``
    when given, else rendered on the fly. The shape (factor 1) is categorical."""

    sizes = SIZES
    categorical = (1,)

    def __init__(self, imgs: np.ndarray | None = None):
        if imgs is not None and len(imgs) != N_IMAGES:
            raise UserError(f"the factor sampler needs the full grid of {N_IMAGES} images, got "
                            f"{len(imgs)} (a make_dsprites --limit subset?)")
        self.imgs = imgs

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(s, size=n) for s in SIZES], 1).astype(np.int64)

    def images(self, factor_idx: np.ndarray) -> np.ndarray:
        flat = np.ravel_multi_index(np.asarray(factor_idx).T, SIZES)
        x = self.imgs[flat] if self.imgs is not None else render(flat)
        return x[:, None]


# -- the training folder's splits (codegan.data.datasets registers ``dsprites``) -----------------
TEST_IMAGES = 10_000  # default size of the held-out evaluation subset
SPLIT_SEED = 0  # the subset is the first TEST_IMAGES of this seed's permutation of the file


_CACHE: dict = {}


def _file_key(file: str) -> tuple:
    st = os.stat(file)
    return os.path.abspath(file), st.st_mtime_ns, st.st_size


def read_cached(root: str) -> dict:
    """``load(<root>/FILENAME)``, kept in memory for the next call on the same unchanged file
    (training reads the train and the test split, test.py also the factor sampler's grid: the
    full file is 3 GB of images, read once). A missing file raises ``MissingData``."""
    from ..errors import MissingData

    file = os.path.join(root, FILENAME)
    if not os.path.isfile(file):
        raise MissingData(f"no {FILENAME} in {root}")
    key = _file_key(file)
    if _CACHE.get("key") != key:
        _CACHE.clear()  # one file at a time
        _CACHE["data"] = load(file)
        _CACHE["key"] = key
    return _CACHE["data"]


def split_indices(n: int, test_images: int = TEST_IMAGES) -> tuple:
    """``(train, test)`` int64 index arrays into a file of ``n`` images: ``test`` the first
    ``test_images`` of ``np.random.default_rng(SPLIT_SEED).permutation(n)`` (then sorted), ``train``
    every other image, in file order. The official split (its ``dsprites_ndarray_train.npz`` and
    the 10,000-image ``1107_dsprites_test`` folder) is unpublished; this one is ours."""
    if not 0 < test_images < n:
        raise UserError(f"dsprites_test_images is {test_images} but the dSprites file holds {n} "
                        f"images; the held-out subset must leave training images: set it "
                        f"between 1 and {n - 1}.")
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    test = np.sort(perm[:test_images])
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask), test


def stored_images(root: str) -> int:
    """How many images ``<root>/FILENAME`` holds, from its ``imgs`` array header (a few bytes,
    not the 3 GB of images); the cached file's count when it is in memory already. A missing
    file raises ``MissingData``; an unreadable one is left to ``load``'s message."""
    from ..errors import MissingData

    file = os.path.join(root, FILENAME)
    if not os.path.isfile(file):
        raise MissingData(f"no {FILENAME} in {root}")
    if _CACHE.get("key") == _file_key(file):
        return len(_CACHE["data"]["imgs"])
    try:
        with zipfile.ZipFile(file) as zf, zf.open("imgs.npy") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape = read(f)[0]
    except Exception:  # broken or foreign file: load() says what is wrong with it
        shape = read_cached(root)["imgs"].shape
    return int(shape[0])


def split_count(root: str, split: str, dsprites_test_images: int = TEST_IMAGES) -> int:
    """``len`` of ``split_loader(root, split, ...)``'s labels without reading the images."""
    n = stored_images(root)
    train, test = split_indices(n, dsprites_test_images)
    return len(test if split == "test" else train)


def split_loader(root: str, split: str, dsprites_test_images: int = TEST_IMAGES):
    """The ``dsprites`` dataset of ``codegan.data.datasets``: ``(x, y)`` with x uint8 (n, 1, 64,
    64) in {0, 255} (so the loop's /255 gives the binary images in {0, 1}) and y the shape class
    0 (square), 1 (ellipse), 2 (heart). ``split`` 'test' is the held-out subset of
    ``split_indices``, 'train' the rest."""
    d = read_cached(root)
    train, test = split_indices(len(d["imgs"]), dsprites_test_images)
    idx = test if split == "test" else train
    x = d["imgs"][idx]  # a copy (fancy indexing): the cached file stays as read
    np.multiply(x, 255, out=x)
    return x[:, None], d["latents_classes"][idx, 1].astype(np.int64)
