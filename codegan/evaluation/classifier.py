"""The real-data classifier of the G-based evaluation (COIL-20, 3D-Chairs, 3D-Cars).

The network is ``classifier_arch``: ``resnet50`` (default), the official ``Classifier()`` -- a
ResNet-50 with the CIFAR stem (3x3 stride-1 first conv taking the dataset's channels, no
max-pool, Bottleneck blocks [3, 4, 6, 3]), global average pooling to 2048 values, one linear
layer to K logits -- or ``resnet18``, the same with ResNet-18's body (512 values; about 2.3x
less compute, for CPUs). Both are ``codegan.nets.resnet.ResNetClassifier``; the weights file
records which, and loading a file whose arch differs from ``classifier_arch`` is an error.
``classifier_path`` null means ``classifier/<classifier_arch>.pt`` in the dataset folder.

It learns the object label of the real images; the G-based protocol
(``codegan.evaluation.g_based``) then classifies generated images with it. The official code
loads a trained ``Classifier.pth`` but publishes neither the file nor how it was trained, so the
training recipe here is this project's: Adam (lr 1e-3, weight decay 5e-4), cosine schedule, 15
epochs of batch 64, random flips and crops (scale 0.8-1, per image), cross-entropy. Views whose
index ``v`` satisfies ``v % holdout_every == holdout_every - 1`` (every 5th pose / rendering by
default) are held out of its training: its accuracy on them is stored in the weights file and
reported beside every G-based score (``classifier_heldout_acc``), so a weak classifier cannot pass
unnoticed.

    python train_classifier.py [--epochs=N] [--batch_size=N] [--lr=X] [--holdout_every=N]
                               [--seed=N] [--out=PATH] [--data_root=DIR] [--device=cpu]
                               [--classifier_arch=resnet50|resnet18] [--classifier_path=PATH]
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import read_torch_file, save_checkpoint
from ..data.datasets import DATASETS
from ..errors import UserError, cli_guard
from ..folders import FOLDERS, dataset_folder
from ..nets.resnet import ResNetClassifier

FORMAT = "codegan-classifier"
ARCH_NAMES = {"resnet50": "ResNet-50", "resnet18": "ResNet-18"}
OPTIONS = {"epochs": 15, "batch_size": 64, "lr": 1e-3, "holdout_every": 5, "seed": 0,
           "out": None, "progress": True}


def classifier_file(cfg, dataset_dir: str | None = None) -> str:
    """``cfg.classifier_path`` (null: ``classifier/<classifier_arch>.pt``), relative paths taken
    from the dataset folder."""
    path = os.path.expanduser(cfg.classifier_path or f"classifier/{cfg.classifier_arch}.pt")
    if os.path.isabs(path):
        return path
    return os.path.join(dataset_dir or dataset_folder(cfg.dataset), path)


def _selection(cfg):
    """Which 3D models the labels refer to (a classifier is only valid for the same list)."""
    if cfg.dataset == "chairs":
        return list(cfg.chairs_models) if cfg.chairs_models else None
    if cfg.dataset == "cars":
        return list(cfg.cars_models)
    return None


def heldout_mask(view: np.ndarray, holdout_every: int) -> np.ndarray:
    """True for the held-out views: ``view % holdout_every == holdout_every - 1``."""
    return (np.asarray(view) % holdout_every) == holdout_every - 1


@torch.no_grad()
def predict_logits(model, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Raw logits (N, K), float32, of float images ``x`` (N, C, H, W) in the image range; the
    model runs in eval mode."""
    was = model.training
    model.eval()
    try:
        out = [model(x[i:i + batch_size]).float() for i in range(0, len(x), batch_size)]
    finally:
        model.train(was)
    return torch.cat(out) if out else torch.zeros(0)


def train_classifier(x_u8: torch.Tensor, y: torch.Tensor, view: np.ndarray, num_classes: int,
                     image_range, holdout_every: int = 5, epochs: int = 15,
                     batch_size: int = 64, lr: float = 1e-3, seed: int = 0, device="cpu",
                     progress: bool = False, arch: str = "resnet50"):
    """Train a ``ResNetClassifier(arch)`` on the non-held-out views of ``x_u8`` (uint8
    (N, C, H, W)) with labels ``y`` (N,), Adam, random flips and crops (scale 0.8-1, per image).

    Returns ``(model, info)``; ``info`` holds 'heldout_acc' (accuracy on the held-out views),
    'train_acc', 'n_train', 'n_heldout', 'seconds'.
    """
    from ..data.augment import Augment
    from ..data.datasets import to_float

    if holdout_every < 2:
        raise UserError(f"holdout_every is {holdout_every}; it must be >= 2 (every N-th view "
                        f"is held out to measure the classifier).")
    torch.manual_seed(seed)
    held = torch.from_numpy(heldout_mask(view, holdout_every))
    xtr, ytr = x_u8[~held], y[~held]
    xte, yte = x_u8[held], y[held]
    if len(xtr) < batch_size:
        batch_size = len(xtr)
    model = ResNetClassifier(x_u8.shape[1], num_classes, arch).to(device)
    opt = torch.optim.Adam(model.parameters(), lr, weight_decay=5e-4)
    steps_per_epoch = max(1, len(xtr) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)
    T = Augment(crop_scale=(0.8, 1.0), hflip=True, per_sample=True)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    from tqdm import tqdm

    bar = tqdm(total=epochs * steps_per_epoch, disable=not progress, desc="classifier")
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for s in range(steps_per_epoch):
            idx = perm[s * batch_size:(s + 1) * batch_size]
            xb = T(to_float(xtr[idx].to(device), image_range))
            loss = F.cross_entropy(model(xb), ytr[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()

    def acc(xs, ys):
        if len(xs) == 0:
            return float("nan")
        p = predict_logits(model, to_float(xs.to(device), image_range)).argmax(1).cpu()
        return float((p == ys).float().mean())

    info = {"heldout_acc": acc(xte, yte), "train_acc": acc(xtr, ytr), "n_train": len(xtr),
            "n_heldout": len(xte), "holdout_every": holdout_every, "epochs": epochs,
            "seconds": round(time.perf_counter() - t0, 1)}
    return model.cpu(), info


def save_classifier(path: str, model, cfg, info: dict) -> None:
    """Write the weights file; an existing file is never replaced."""
    spec = DATASETS[cfg.dataset]
    blob = {"format": FORMAT, "arch": model.arch, "dataset": cfg.dataset,
            "models": _selection(cfg),
            "num_classes": spec.num_classes, "channels": spec.channels, "size": spec.size,
            "state_dict": model.state_dict(), **info}
    if os.path.exists(path):
        raise UserError(f"{path} exists; it is not overwritten. Delete it or pass --out=PATH.")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_checkpoint(path, blob)


def load_classifier(path: str, cfg, device="cpu"):
    """Load a ``cfg.classifier_arch`` classifier for ``cfg``'s dataset (and 3D model list).
    Returns ``(model, info)`` with the model in eval mode on ``device``; ``info`` holds the
    stored accuracies and the arch."""
    folder = FOLDERS.get(cfg.dataset, cfg.dataset)
    blob = read_torch_file(
        path, f"the G-based evaluation needs a {ARCH_NAMES[cfg.classifier_arch]} classifier at "
              f"{path}; train it with `python train_classifier.py` in {folder}/ (or set "
              f"classifier_path / classifier_arch).",
        f"{path} is not a readable classifier file; train it again with train_classifier.py")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise UserError(f"{path} is not a classifier file of this project (written by "
                        f"train_classifier.py).")
    if blob["dataset"] != cfg.dataset:
        raise UserError(f"{path} classifies {blob['dataset']}, not {cfg.dataset}; point "
                        f"classifier_path at the {folder} classifier.")
    if blob.get("models") != _selection(cfg):
        raise UserError(f"{path} was trained on the models {blob.get('models')}, but this run "
                        f"uses {_selection(cfg)}; train a classifier for this selection.")
    # files written before the arch was recorded all hold a ResNet-18
    arch, want = blob.get("arch", "resnet18"), cfg.classifier_arch
    if arch != want:
        raise UserError(
            f"{path} holds a {ARCH_NAMES.get(arch, arch)} classifier ({arch}), but "
            f"classifier_arch is {want}. Either set classifier_arch: {arch} (param.yml or "
            f"--classifier_arch={arch}) to evaluate with this file, or train a "
            f"{ARCH_NAMES[want]} with `python train_classifier.py --classifier_arch={want}` in "
            f"{folder}/ and point classifier_path at it (null: classifier/{want}.pt).")
    spec = DATASETS[cfg.dataset]
    model = ResNetClassifier(spec.channels, spec.num_classes, arch)
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as e:
        raise UserError(f"{path} does not fit the {ARCH_NAMES[arch]} classifier "
                        f"({str(e).splitlines()[0][:160]}); train it again.") from None
    info = {k: v for k, v in blob.items() if k not in ("state_dict", "format")}
    info["path"], info["arch"] = path, arch
    return model.to(device).eval(), info


@cli_guard
def main(dataset_dir: str, argv: list) -> str:
    """``train_classifier.py``: train a ``classifier_arch`` classifier on the folder's dataset,
    save to ``classifier_path`` (null: ``classifier/<classifier_arch>.pt``; or ``--out``), print
    the held-out accuracy. Returns the file written."""
    from ..config import BASE, load_config, parse_overrides, schema_for
    from ..data.datasets import resolve_data_root
    from ..data.datasets_extra import read_with_views
    from ..device import pick_device

    dataset_dir = os.path.abspath(dataset_dir)
    given = parse_overrides(argv)
    cfg_keys = {"data_root", "device", "classifier_arch", "classifier_path", "chairs_models",
                "cars_models"}
    bad = sorted(set(given) - set(OPTIONS) - cfg_keys - {"config"})
    if bad:
        hint = " (a training setting)" if bad[0] in schema_for(BASE) else ""
        raise UserError(f"unknown option --{bad[0]}{hint} for train_classifier.py; it takes "
                        f"{', '.join('--' + k for k in sorted(set(OPTIONS) | cfg_keys))}.")
    opts = {**OPTIONS, **{k: v for k, v in given.items() if k in OPTIONS}}
    for k in ("epochs", "batch_size", "holdout_every"):
        if not isinstance(opts[k], int) or isinstance(opts[k], bool) or opts[k] < 1:
            raise UserError(f"--{k} is {opts[k]!r}; give a whole number >= 1.")
    cfg_path = given.get("config") or os.path.join(dataset_dir, "param.yml")
    cfg = load_config(cfg_path, {k: v for k, v in given.items() if k in cfg_keys})
    if cfg.dataset not in ("coil20", "chairs", "cars"):
        raise UserError(f"{cfg.dataset} is evaluated E-based; it needs no classifier.")
    out = opts["out"] or classifier_file(cfg, dataset_dir)
    out = os.path.abspath(out)
    if os.path.exists(out):
        raise UserError(f"{out} exists; it is not overwritten. Delete it or pass --out=PATH.")
    device = pick_device(cfg.device)
    x, y, view = read_with_views(cfg.dataset, resolve_data_root(cfg.data_root), cfg)
    spec = DATASETS[cfg.dataset]
    model, info = train_classifier(torch.from_numpy(x), torch.from_numpy(y), view,
                                   spec.num_classes, spec.image_range, opts["holdout_every"],
                                   opts["epochs"], opts["batch_size"], float(opts["lr"]),
                                   opts["seed"], device, bool(opts["progress"]),
                                   cfg.classifier_arch)
    save_classifier(out, model, cfg, info)
    print(f"{ARCH_NAMES[cfg.classifier_arch]} classifier: held-out view accuracy "
          f"{info['heldout_acc']:.4f} on {info['n_heldout']} images (train "
          f"{info['train_acc']:.4f} on {info['n_train']}), {info['seconds']} s\n"
          f"wrote {out}")
    return out
