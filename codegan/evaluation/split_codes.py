"""The evaluation of a method that splits an image into a specified code ``s`` and an unspecified
code ``z`` (its ``Method.represent`` gives ``specified`` and ``unspecified``; Mathieu et al.
2016), as the authors of its reference code report it: the accuracy of an MLP classifier trained
on ``s`` (should be high) and on ``z`` (should be low), train and test; swap grids (rows take
``z`` from one real image, columns ``s`` from another); a t-SNE of ``z`` and of ``s`` coloured
by class.

    python -m codegan.evaluation.split_codes --checkpoint=PATH [--out=DIR]
        [--tsne_per_class=100] [--device=cpu] [--data_root=DIR]

writes ``swap.png`` and ``tsne.png`` (beside the checkpoint by default; never over an earlier
file). ``test.py`` prints the accuracies beside the published table.
"""

from __future__ import annotations

import contextlib
import os
import sys

import torch
from torch import nn

from ..data.datasets import DATASETS, load_images, to_float
from ..errors import UserError, cli_guard
from ..methods import METHODS

SPLIT = ("specified", "unspecified")  # the keys of Method.represent these evaluations read

# the classification accuracies (%) published in the README of Mathieu et al.'s PyTorch
# reimplementation (ananyahjha93; not by the paper's authors), MNIST, by (z_dim, s_dim)
PUBLISHED_PROBES = {
    (16, 16): {"z_train": 70.85, "z_test": 66.83, "s_train": 99.37, "s_test": 98.52},
    (64, 64): {"z_train": 74.94, "z_test": 72.20, "s_train": 99.94, "s_test": 98.64},
}


def has_split_codes(cfg) -> bool:
    """Whether the run's method splits images into specified and unspecified codes."""
    return set(SPLIT) <= set(METHODS[cfg.method].codes(cfg))


@contextlib.contextmanager
def _eval_mode(module: nn.Module):
    was = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was)


@contextlib.contextmanager
def _own_rng(seed: int, device):
    """A seeded global random stream inside, the caller's streams unchanged outside (an
    evaluation during training must not move the run's randomness)."""
    dev = torch.device(device)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _split(data: dict, cfg, split: str):
    """``(x uint8, y)`` of a split: from ``data`` when it holds it, else read from disk."""
    if f"{split}_x" in data:
        return data[f"{split}_x"], data[f"{split}_y"]
    return load_images(cfg.dataset, cfg.data_root, split, cfg if split == "train" else None)


@torch.no_grad()
def encode_codes(nets, cfg, x: torch.Tensor, image_range, batch_size: int, device):
    """The method's split codes (``Method.represent``, nets in eval mode) of uint8 images, in
    batches. Returns ``z`` (the unspecified code's mean) and ``s`` (the specified code), float32
    (N, d) tensors on the CPU."""
    method = METHODS[cfg.method]
    zs, ss = [], []
    with _eval_mode(nets):
        for i in range(0, len(x), batch_size):
            out = method.represent(nets, cfg, to_float(x[i:i + batch_size].to(device),
                                                      image_range), SPLIT)
            zs.append(out["unspecified"].float().cpu())
            ss.append(out["specified"].float().cpu())
    return torch.cat(zs), torch.cat(ss)


def probe_mlp(in_dim: int, n_classes: int) -> nn.Module:
    """The official evaluation classifier: Linear 256, BatchNorm, LeakyReLU(0.2), twice, then a
    linear layer to the classes."""
    return nn.Sequential(nn.Linear(in_dim, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.2),
                         nn.Linear(256, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.2),
                         nn.Linear(256, n_classes))


def probe_accuracy(train_f, train_y, test_f, test_y, n_classes: int, epochs: int, lr: float,
                   batch_size: int, device="cpu") -> tuple:
    """Train ``probe_mlp`` on ``train_f`` (N, d) -> ``train_y`` (N,) with Adam and the
    cross-entropy (shuffled minibatches from the global stream), then score it in eval mode.
    Returns (train accuracy, test accuracy), fractions."""
    mlp = probe_mlp(train_f.shape[1], n_classes).to(device)
    opt = torch.optim.Adam(mlp.parameters(), lr)
    xf, yf = train_f.to(device), train_y.to(device)
    n = len(xf)
    bs = min(batch_size, n)
    for _ in range(epochs):
        perm = torch.randperm(n).to(device)
        for i in range(0, n - bs + 1, bs):  # drop_last: BatchNorm needs more than one row
            idx = perm[i:i + bs]
            loss = nn.functional.cross_entropy(mlp(xf[idx]), yf[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    @torch.no_grad()
    def acc(f, y):
        with _eval_mode(mlp):
            pred = torch.cat([mlp(f[i:i + 4096].to(device)).argmax(1).cpu()
                              for i in range(0, len(f), 4096)])
        return float((pred == y.cpu()).float().mean())

    return acc(train_f, train_y), acc(test_f, test_y)


def probe_scores(nets, cfg, data: dict, device) -> dict:
    """MLP accuracies on ``z`` and ``s`` of the training and test images (``data`` or read from
    disk): ``probe_{z,s}_{train,test}``, fractions; ``probe_setting`` names the dataset and
    the code sizes (for the published numbers)."""
    rng = DATASETS[cfg.dataset].image_range
    out = {}
    with _own_rng(cfg.seed, device):
        codes = {}
        for split in ("train", "test"):
            x, y = _split(data, cfg, split)
            codes[split] = (*encode_codes(nets, cfg, x, rng, cfg.eval_batch_size, device), y)
        for i, name in enumerate(("z", "s")):
            tr, te = probe_accuracy(codes["train"][i], codes["train"][2], codes["test"][i],
                                    codes["test"][2], cfg.zc_dim, cfg.probe_epochs,
                                    cfg.probe_lr, cfg.probe_batch_size, device)
            out[f"probe_{name}_train"], out[f"probe_{name}_test"] = tr, te
    out["probe_setting"] = f"{cfg.dataset} z{cfg.zn_dim}/s{cfg.s_dim}"
    return out


def probe_table(res: dict) -> list:
    """Text lines: the probe accuracies of ``res`` (%), beside the official README's for the
    same dataset and code sizes where published."""
    if "probe_s_test" not in res:
        return []
    setting = res.get("probe_setting", "")
    pub = None
    if setting.startswith("mnist "):
        z, s = setting.split()[1].split("/")
        pub = PUBLISHED_PROBES.get((int(z[1:]), int(s[1:])))
    lines = [f"MLP classifier accuracy on the codes ({setting}; s high and z low is the goal):",
             f"{'code':<6}{'train %':>9}{'test %':>9}" +
             (f"{'published train %':>19}{'published test %':>18}" if pub else "")]
    for name in ("s", "z"):
        row = f"{name:<6}{100 * res[f'probe_{name}_train']:>9.2f}" \
              f"{100 * res[f'probe_{name}_test']:>9.2f}"
        if pub:
            row += f"{pub[name + '_train']:>19.2f}{pub[name + '_test']:>18.2f}"
        lines.append(row)
    if pub:
        lines.append("published: the official README (ananyahjha93), after 50 epochs")
    return lines


# -- swap grids --------------------------------------------------------------------------------
def swap_images(x: torch.Tensor, y: torch.Tensor, n_classes: int):
    """Fixed real images for a swap grid: ``x_z`` = the second image of each class (rows),
    ``x_s`` = the first image of each class (columns), classes present in ``y`` only."""
    rows, cols = [], []
    for k in range(n_classes):
        idx = torch.nonzero(y == k).flatten()
        if len(idx):
            cols.append(idx[0])
            rows.append(idx[1] if len(idx) > 1 else idx[0])
    return x[torch.stack(rows)], x[torch.stack(cols)]


@torch.no_grad()
def swap_grid(E: nn.Module, dec: nn.Module, x_z: torch.Tensor, x_s: torch.Tensor):
    """Images ((R + 1) * (C + 1), ch, H, W), row-major for ``nrow = C + 1``: the first row is a
    blank corner then the C images ``x_s`` give ``s``; each further row ``i`` is ``x_z[i]`` then
    ``dec(z_i, s_j)`` for every column ``j`` (``z_i``: the mean of ``E(x_z[i])``)."""
    z, s = E(x_z)[0], E(x_s)[2]
    r, c = len(x_z), len(x_s)
    cells = dec(z.repeat_interleave(c, 0), s.repeat(r, 1)).float()
    rows = [torch.cat([torch.zeros_like(x_s[:1]), x_s])]
    rows += [torch.cat([x_z[i:i + 1], cells[i * c:(i + 1) * c]]) for i in range(r)]
    return torch.cat(rows)


def save_swap_grid(nets, cfg, path: str, device, data: dict | None = None) -> None:
    """The swap grid of ``swap_images`` of the test set (``data`` or read from disk), E and
    the decoder (``nets.G``) in eval mode, as a PNG."""
    from torchvision.utils import save_image

    x, y = _split(data or {}, cfg, "test")
    x_z, x_s = swap_images(x, y, cfg.zc_dim)
    rng = DATASETS[cfg.dataset].image_range
    with _eval_mode(nets):
        grid = swap_grid(nets.E, nets.G, to_float(x_z.to(device), rng),
                         to_float(x_s.to(device), rng))
    lo, hi = rng
    save_image(((grid - lo) / (hi - lo)).cpu(), path, nrow=len(x_s) + 1, padding=2,
               pad_value=1.0)


def save_tsne(nets, cfg, path: str, device, n_per_class: int = 100,
              data: dict | None = None) -> None:
    """t-SNE of ``z`` (its mean) and of ``s`` of ``n_per_class`` test images per class (the
    first ones), two panels coloured by the true class."""
    from .plots import plot_tsne, tsne_2d

    x, y = _split(data or {}, cfg, "test")
    pick = torch.cat([torch.nonzero(y == k).flatten()[:n_per_class] for k in range(cfg.zc_dim)])
    z, s = encode_codes(nets, cfg, x[pick], DATASETS[cfg.dataset].image_range,
                        cfg.eval_batch_size, device)
    labels = y[pick].numpy()
    panels = {f"z (unspecified, {z.shape[1]})": (tsne_2d(z.numpy(), cfg.seed), labels),
              f"s (specified, {s.shape[1]})": (tsne_2d(s.numpy(), cfg.seed), labels)}
    plot_tsne(panels, path, f"{cfg.method}: codes of real test images", "true class")


@cli_guard
def main(argv: list) -> dict:
    """The figures of a checkpoint (module docstring). Returns ``{"swap": path, "tsne":
    path}``."""
    from ..config import parse_overrides
    from .sampling import load_nets

    opts = parse_overrides(argv)
    allowed = {"checkpoint", "out", "tsne_per_class", "device", "data_root"}
    bad = sorted(set(opts) - allowed)
    if bad or "checkpoint" not in opts:
        raise UserError("usage: python -m codegan.evaluation.split_codes --checkpoint=PATH "
                        "[--out=DIR] [--tsne_per_class=100] [--device=cpu] [--data_root=DIR]"
                        + (f" (unknown option --{bad[0]})" if bad else ""))
    ckpt = str(opts["checkpoint"])
    nets, cfg, _ = load_nets(ckpt, device=opts.get("device", "auto"))
    if not has_split_codes(cfg):
        raise UserError(f"{ckpt} is a {cfg.method} checkpoint; these figures need a method "
                        f"that splits images into specified and unspecified codes.")
    if "data_root" in opts:
        cfg = cfg.replace(data_root=str(opts["data_root"]))
    device = next(nets.parameters()).device
    out = str(opts.get("out", os.path.dirname(os.path.abspath(ckpt))))
    os.makedirs(out, exist_ok=True)
    stem = os.path.splitext(os.path.basename(ckpt))[0]
    paths = {"swap": os.path.join(out, f"{stem}-swap.png"),
             "tsne": os.path.join(out, f"{stem}-tsne.png")}
    for p in paths.values():
        if os.path.exists(p):
            raise UserError(f"{p} exists already; choose another --out.")
    data = dict(zip(("test_x", "test_y"), load_images(cfg.dataset, cfg.data_root, "test")))
    save_swap_grid(nets, cfg, paths["swap"], device, data)
    n = int(opts.get("tsne_per_class", 100))
    if n > 0:
        save_tsne(nets, cfg, paths["tsne"], device, n, data)
    else:
        del paths["tsne"]
    for p in paths.values():
        print(f"wrote {p}")
    return paths


if __name__ == "__main__":
    main(sys.argv[1:])
