"""Datasets, held in memory as uint8 and turned into float batches on demand.

Every dataset is read once into a ``uint8`` tensor of shape (N, C, H, W) plus ``int64`` labels
(N,). Batches are cut from it by index and scaled to the dataset's image range, ``[0, 1]``
(MNIST, Fashion-MNIST) or ``[-1, 1]`` (the others): no DataLoader workers, no per-image Python.

Where the files are: ``--data_root`` / ``data_root:``, else ``$CODEGAN_DATA``, else
``<repository>/data``. The ``.npz`` layout is that of the project's shared datasets
(``mnist.npz``: x_train, y_train, x_test, y_test, ...). MNIST, Fashion-MNIST and CIFAR-10 fall
back to torchvision's download when the ``.npz`` is absent and the network allows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..errors import MissingData, UserError
from . import datasets_extra as extra
from . import dsprites as _dsprites


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    num_classes: int
    channels: int
    size: int  # images are size x size
    image_range: tuple  # (0, 1) or (-1, 1): what G outputs and D, E_c, E_z read
    loader: Callable[[str, str], tuple]  # (root, split) -> (uint8 N,C,H,W array, int64 N array)
    files: str  # what to put where, for the missing-data message
    options: tuple = ()  # settings (cfg keys) the loader takes as keyword arguments
    # (root, split, **options) -> the split's image count without reading the images, where the
    # file format allows (dSprites: 3 GB of images); None: count what ``loader`` returns
    counter: Callable[..., int] | None = None


def default_data_root() -> str:
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isdir(os.path.join(repo, "MNIST")):
        return os.path.join(repo, "data")
    return os.path.join(os.path.expanduser("~"), ".cache", "codegan", "data")


def resolve_data_root(value: str | None = None) -> str:
    """``value`` (from --data_root) > ``$CODEGAN_DATA`` > the default folder."""
    root = value or os.environ.get("CODEGAN_DATA") or default_data_root()
    return os.path.abspath(os.path.expanduser(root))


def _npz_split(path: str, split: str, hwc: bool):
    try:
        with np.load(path) as f:
            x, y = f[f"x_{split}"], f[f"y_{split}"]
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"{path} could not be read ({e}); it must be an .npz with keys "
                        f"x_train, y_train, x_test, y_test. Replace the file.") from None
    x = x[:, None] if x.ndim == 3 else (x.transpose(0, 3, 1, 2) if hwc else x)
    return np.ascontiguousarray(x, dtype=np.uint8), y.astype(np.int64)


def _torchvision_split(cls_name: str, root: str, split: str):
    import torchvision

    cls = getattr(torchvision.datasets, cls_name)
    try:
        ds = cls(os.path.join(root, "torchvision"), train=(split == "train"), download=True)
    except Exception as e:  # no network, broken mirror, disk full: say it once, clearly
        return None, str(e).splitlines()[0] if str(e) else type(e).__name__
    x = np.asarray(ds.data)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return (np.ascontiguousarray(x, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64)), None


def _standard(npz: str, tv_name: str, hwc: bool):
    def load(root: str, split: str):
        path = os.path.join(root, npz)
        if os.path.isfile(path):
            return _npz_split(path, split, hwc)
        got, why = _torchvision_split(tv_name, root, split)
        if got is None:
            raise MissingData(why)
        return got

    return load


DATASETS: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> None:
    DATASETS[spec.name] = spec


register(DatasetSpec("mnist", 10, 1, 28, (0, 1), _standard("mnist.npz", "MNIST", False),
                     "mnist.npz (keys x_train, y_train, x_test, y_test; uint8 28x28)"))
register(DatasetSpec("fashion_mnist", 10, 1, 28, (0, 1),
                     _standard("fashion_mnist.npz", "FashionMNIST", False),
                     "fashion_mnist.npz (keys x_train, y_train, x_test, y_test; uint8 28x28)"))
register(DatasetSpec("cifar10", 10, 3, 32, (-1, 1), _standard("cifar10.npz", "CIFAR10", True),
                     "cifar10.npz (keys x_train, y_train, x_test, y_test; uint8 32x32x3)"))

# raw public formats, read by codegan.data.datasets_extra
register(DatasetSpec(
    "coil20", 20, 1, 32, (-1, 1), extra.coil20_loader,
    f"coil20.npz (keys images (1440,128,128) or (1440,32,32) uint8, labels 0..19, optional "
    f"poses 0..71) or the folder "
    f"coil-20-proc/ of obj<N>__<pose>.png files ({extra.COIL20_URL})"))
register(DatasetSpec(
    "chairs", 10, 3, 64, (-1, 1), extra.chairs_loader,
    f"the rendered_chairs/ folder (one folder per chair model, its renders/ holding "
    f"image_<k>_p<pitch>_t<theta>_r<r>.png) of Aubry et al. 2014, from {extra.CHAIRS_URL}",
    options=("chairs_models",)))
register(DatasetSpec(
    "cars", 10, 3, 64, (-1, 1), extra.cars_loader,
    f"the cars/ folder of car_<NNN>_mesh.mat files of Reed et al. 2015 (in {extra.CARS_URL}: "
    f"extract it and move data/cars into the data root)", options=("cars_models",)))
register(DatasetSpec(
    "dsprites", 3, 1, 64, (0, 1), _dsprites.split_loader,
    f"{_dsprites.FILENAME} (the real file, from {_dsprites.URL}; or our re-rendering of it: "
    f"`python make_dsprites.py --out=DIR` in the dSprites folder, a few minutes)",
    options=("dsprites_test_images",), counter=_dsprites.split_count))


def _options(spec: DatasetSpec, cfg) -> dict:
    """The settings ``spec``'s loader (and counter) take, from ``cfg``; their defaults without."""
    return {k: getattr(cfg, k) for k in spec.options} if cfg is not None else {}


def load_images(dataset: str, data_root: str | None, split: str = "train", cfg=None):
    """Read a split into memory. ``cfg`` supplies the loader's ``options`` (e.g. which 3D
    models); without it the loader uses their defaults.

    Returns ``(x, y)``: ``x`` uint8 tensor (N, C, H, W) in [0, 255], ``y`` int64 tensor (N,).
    A missing dataset raises ``UserError`` saying which files to put where.
    """
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}.")
    spec = DATASETS[dataset]
    root = resolve_data_root(data_root)
    try:
        x, y = spec.loader(root, split, **_options(spec, cfg))
    except MissingData as e:
        raise UserError(
            f"{dataset} not found in the data root {root}. Put {spec.files} there, or point "
            f"--data_root / $CODEGAN_DATA at the folder holding it. ({e})") from None
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y))


def count_images(dataset: str, data_root: str | None, split: str = "train", cfg=None) -> int:
    """The number of images in a split (``load_images``'s N), read from the file's header where
    the dataset's spec has a ``counter``, else by loading the split. Same messages as
    ``load_images`` for an unknown or missing dataset."""
    spec = DATASETS.get(dataset)
    if spec is None or spec.counter is None:
        return len(load_images(dataset, data_root, split, cfg)[1])
    try:
        return spec.counter(resolve_data_root(data_root), split, **_options(spec, cfg))
    except MissingData:  # the loader's path has the message naming the files
        return len(load_images(dataset, data_root, split, cfg)[1])


def to_float(x: torch.Tensor, image_range) -> torch.Tensor:
    """uint8 [0, 255] -> float32 in ``image_range`` ((0, 1) or (-1, 1))."""
    x = x.float()
    if tuple(image_range) == (0, 1):
        return x.div_(255.0)
    return x.div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor, image_range, mode: str = "round") -> torch.Tensor:
    """float in ``image_range`` -> uint8 [0, 255], clamped. ``mode``: ``round`` to the nearest
    level, or ``truncate`` (drop the fraction, as the official IS/FID sampler's
    ``astype('int32')``)."""
    lo, hi = image_range
    x = ((x - lo) / (hi - lo) * 255.0).clamp_(0, 255)
    if mode == "round":
        x = x.round_()
    elif mode != "truncate":
        raise ValueError(mode)
    return x.to(torch.uint8)


class BatchStream:
    """Shuffled minibatches of an in-memory uint8 dataset, epoch by epoch (drop_last).

    The permutation of each epoch is drawn from its own generator, so the stream's position
    (epoch, index in epoch, generator state) is all a checkpoint needs to resume exactly.
    """

    def __init__(self, x: torch.Tensor, batch_size: int, seed: int, part=None):
        """``part``: in a multi-process run, the function that keeps this process's rows of
        each (global) batch; the permutations are the same on every process."""
        if len(x) < batch_size:
            raise UserError(f"the dataset has {len(x)} images, fewer than one batch of "
                            f"{batch_size}; lower d_batch_size.")
        self.x = x
        self.batch_size = batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.iters_per_epoch = len(x) // batch_size
        self.perm = None
        self.pos = 0  # next batch index within the epoch
        self.part = part

    def next(self) -> torch.Tensor:
        """The next uint8 batch (B, C, H, W); a new permutation at each epoch's start."""
        if self.perm is None or self.pos >= self.iters_per_epoch:
            # drawn on the CPU (the same numbers on every device), kept beside the data: a
            # batch is then a gather on the device, with no index copied from the host
            self.perm = torch.randperm(len(self.x), generator=self.gen).to(self.x.device)
            self.pos = 0
        idx = self.perm[self.pos * self.batch_size:(self.pos + 1) * self.batch_size]
        self.pos += 1
        return self.x[idx if self.part is None else self.part(idx)]

    def state_dict(self) -> dict:
        perm = None if self.perm is None else self.perm.cpu()  # a checkpoint loads anywhere
        return {"gen": self.gen.get_state(), "perm": perm, "pos": self.pos}

    def load_state_dict(self, s: dict) -> None:
        self.gen.set_state(s["gen"])
        self.perm = None if s["perm"] is None else s["perm"].to(self.x.device)
        self.pos = s["pos"]
