"""Learning curves at equal budget: the official CoDeGAN code and ours, epoch by epoch.

    python bench/official_curves.py --official=DIR --code=official --folder=MNIST --seed=0
    python bench/official_curves.py --official=DIR --code=ours --folder=MNIST --seed=0
    python bench/official_curves.py --plot --folder=MNIST     # figure + table from the runs

DIR is a checkout of github.com/learninginvision/CoDeGAN at its first upload (commit 348d046):
``git clone https://github.com/learninginvision/CoDeGAN DIR && git -C DIR checkout 348d046``.

``--code=official`` runs the official ``Solver`` of the folder as its ``train.py`` drives it
(MNIST/train.py:50-57, Fashion-MNIST/train.py:76-93: per iteration G, then E, then D on the
DataLoader's batch), with its own initialisation, its own random streams (``sample_noise``,
``train_transform``) and ``torch.manual_seed(seed)`` where its train.py seeds 0. What is changed,
in memory only: ``cuda:N`` is mapped to the CPU (bench/official_diff.py's ``cuda_to_cpu``), and
the DataLoader reads the project's ``.npz`` copy of the dataset (the same images in [0, 1] as
torchvision's ``ToTensor``; shuffled, ``drop_last``, no worker processes) instead of downloading.
Unsupervised settings: Fashion-MNIST's ``few_labels`` / ``pretrain`` off and ``chain_step`` 0, and
the numbers of the folder's param.yml of this project (which cites the official README).

``--code=ours`` runs our ``Trainer`` on the folder's param.yml (seed ``--seed``).

Before training (epoch 0: what training adds is measured from there) and after every epoch both
are scored the same way, by this script: E_c's features of the 10,000
real test images (the official ``test.py`` reads ``_, feature = E(x)``), k-means with K = 10,
ten seeded single-initialisation runs (codegan.evaluation.e_based.kmeans_scores: the mean, and
the run of lowest inertia, which is the official ``KMeans(n_init=10)`` procedure), purity / NMI /
ARI; and a 10 x 10 grid from both G in eval mode on the same latents (row = class code,
codegan.latent.grid_latent). Written to ``<out>/<folder>-<code>-s<seed>/``: ``metrics.jsonl``
(one line per epoch), ``grid-e<epoch>.png`` and, after the last epoch, ``--fakes`` images of G
in eval mode as ``fakes-e<epoch>.npy`` (uint8, with ``_codes.npy``: the format of
test/sample_fake_images2npy.py, for test/test_IS&FID.py; the same latents, seed 0, for both
codes; ``*.npy`` is never committed); a run that already has an epoch's line is left
alone (finished parts are kept; rerun the same command after a stop to redo the missing ones
from the start: a run is not resumed mid-way).

``--plot`` reads every run of the folder and writes ``curves.png`` (mean and the seeds' range,
both codes), ``grids.png`` (both codes, each epoch, seed 0) and ``table.md``.
Exit status 2 on bad input (one message, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import official_diff as od  # noqa: E402  (the official checkout's checks and CPU mapping)

DATA_FILE = {"MNIST": "mnist.npz", "Fashion-MNIST": "fashion_mnist.npz"}
METRICS = ("acc_purity", "nmi", "ari")  # acc_purity: the official test.py's calculate_acc
# the series --plot draws: the two codes, and runs of ours made before the crop read the box's own
# edge pixels (aug_crop_edge: image), kept as <folder>-ours-crop-image-s<seed>/ where they exist
SERIES = (("official", "tab:blue"), ("ours", "tab:orange"), ("ours-crop-image", "tab:gray"))
GRID_SEED = 12345  # codegan.latent.grid_latent's default: the same latents for both codes


def run_dir(out: str, folder: str, code: str, seed: int) -> str:
    return os.path.join(out, f"{folder}-{code}-s{seed}")


def done_epochs(path: str) -> set:
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {json.loads(line)["epoch"] for line in f if line.strip()}


def our_cfg(folder: str, seed: int, data_root: str, tmp: str, threads: int):
    from codegan.config import load_config

    over = dict(seed=seed, device="cpu", progress=False, data_root=data_root, kmeans_runs=10,
                out=os.path.join(tmp, "runs"), num_threads=threads)
    return load_config(os.path.join(REPO, folder, "param.yml"), over)


def score(encode_fn, test_x, test_y, cfg) -> dict:
    """Official-protocol scores of features ``encode_fn(images in [0, 1])`` of the test set."""
    from codegan.evaluation.e_based import encode, kmeans_scores

    feats = encode(encode_fn, test_x, (0.0, 1.0), 500, "cpu")
    res = kmeans_scores(feats, test_y.numpy(), cfg.zc_dim, runs=10, seed=0, threads=1)
    return res


def grid(G_fn, cfg, path: str) -> None:
    """10 x 10 grid of ``G_fn(z, c)`` (images in [0, 1]) on ``grid_latent``'s latents."""
    import torch
    from torchvision.utils import save_image

    from codegan.latent import grid_latent

    z, c = grid_latent(10, cfg.zn_dim, cfg.zc_dim, seed=GRID_SEED)
    with torch.no_grad():
        x = G_fn(z, c).float()
    save_image(x, path, nrow=10, padding=2, pad_value=1.0)


class Official:
    """The official solver of the folder, driven as its train.py drives it."""

    def __init__(self, args, cfg, train_x, train_y):
        import torch
        import yaml

        fdir = od.check_official(args.official, args.folder)
        with open(os.path.join(fdir, "param.yml")) as f:
            ocfg = yaml.safe_load(f)
        # the unsupervised settings: the same numbers as our param.yml (its header cites them)
        for k in ("zc_dim", "zn_dim", "fc_dim", "beta_1", "beta_2", "lr", "temp_C",
                  "g_batch_size", "d_batch_size", "e_batch_size"):
            ocfg[k] = getattr(cfg, k)
        ocfg.update(few_labels=False, pretrain=False, meta=False, chain_step=0)
        solver_mod, self.util = od.import_official(fdir)
        torch.manual_seed(args.seed)  # official train.py: torch.manual_seed(0), before Solver
        with od.cuda_to_cpu():
            self.s = solver_mod.Solver(ocfg)
        self.cfg, self.folder = cfg, args.folder
        ds = torch.utils.data.TensorDataset(train_x.float() / 255.0, train_y)
        self.loader = torch.utils.data.DataLoader(ds, batch_size=cfg.d_batch_size, shuffle=True,
                                                  drop_last=True, num_workers=0)
        self.iters_per_epoch = len(self.loader)

    def epoch(self, limit=None):
        s, cfg = self.s, self.cfg
        s.G.train(), s.E.train(), s.D.train()
        with od.cuda_to_cpu():
            for idx, (data, _) in enumerate(self.loader):
                if limit is not None and idx >= limit:
                    break
                if self.folder == "MNIST":  # MNIST/train.py:53-55
                    s.optimize_parametersG(cfg.g_batch_size)
                    s.optimize_parametersE(cfg.e_batch_size)
                else:  # Fashion-MNIST/train.py:84-90, epoch >= chain_step 0, no labels
                    s.optimize_parametersG(cfg.g_batch_size)
                    s.optimize_parametersE(cfg.e_batch_size, None)
                s.optimize_parametersD(cfg.d_batch_size, data)

    def eval_mode(self):
        self.s.G.eval(), self.s.E.eval()  # official train.py before visualize_result / test

    def encoder(self):
        return lambda x: self.s.E(x)[1]  # official test.py: _, feature = E(data)

    def generator(self):
        import torch.nn.functional as F
        import torch

        return lambda z, c: self.s.G(torch.cat([z, F.one_hot(c, self.cfg.zc_dim).float()], 1))


class Ours:
    def __init__(self, args, cfg):
        from codegan.training.loop import Trainer

        self.tr = Trainer(cfg, os.path.join(REPO, args.folder))
        self.iters_per_epoch = self.tr.iters_per_epoch

    def epoch(self, limit=None):
        n = self.iters_per_epoch if limit is None else min(limit, self.iters_per_epoch)
        self.tr.nets.train()
        for _ in range(n):
            self.tr.train_iteration()

    def eval_mode(self):
        self.tr.nets.eval()

    def encoder(self):
        from codegan.evaluation.e_based import eval_encoder

        return eval_encoder(self.tr.nets, self.tr.cfg, "cpu")

    def generator(self):
        return self.tr.nets.G


def train(args) -> None:
    import tempfile

    import torch

    from codegan.data.datasets import load_images

    # everything the epochs use is imported now: a run of hours must not meet a package that
    # changed on disk under it at its first evaluation
    import codegan.evaluation.e_based  # noqa: F401
    import codegan.evaluation.fakes  # noqa: F401
    import codegan.latent  # noqa: F401
    import torchvision.utils  # noqa: F401

    torch.set_num_threads(args.threads)
    out = run_dir(args.out, args.folder, args.code, args.seed)
    os.makedirs(out, exist_ok=True)
    log = os.path.join(out, "metrics.jsonl")
    done = done_epochs(log)
    if all(e in done for e in range(0, args.epochs + 1)):
        print(f"{out}: epochs 0-{args.epochs} already there")
        return
    if done:
        os.replace(log, log + f".partial-{int(time.time())}")  # a run is redone from the start
    with tempfile.TemporaryDirectory() as tmp:
        cfg = our_cfg(args.folder, args.seed, args.data_root, tmp, args.threads)
        test_x, test_y = load_images(cfg.dataset, cfg.data_root, "test", cfg)
        if args.code == "official":
            train_x, train_y = load_images(cfg.dataset, cfg.data_root, "train", cfg)
            code = Official(args, cfg, train_x, train_y)
        else:
            code = Ours(args, cfg)
        ipe = code.iters_per_epoch if args.limit is None else min(args.limit, code.iters_per_epoch)
        t0 = time.time()
        for e in range(0, args.epochs + 1):  # epoch 0: the untrained networks, a row of its own
            if e:
                code.epoch(args.limit)
            code.eval_mode()
            with torch.no_grad():
                res = score(code.encoder(), test_x, test_y, cfg)
                grid(code.generator(), cfg, os.path.join(out, f"grid-e{e}.png"))
            rec = {"epoch": e, "iteration": e * ipe, "code": args.code, "seed": args.seed,
                   "folder": args.folder, "seconds": round(time.time() - t0, 1), **res}
            with open(log, "a") as f:
                f.write(json.dumps(rec) + "\n")
            print(json.dumps(rec), flush=True)
        if args.fakes:
            write_fakes(code.generator(), cfg, os.path.join(out, f"fakes-e{args.epochs}.npy"),
                        args.fakes)


def write_fakes(G_fn, cfg, path: str, num: int) -> None:
    """``num`` images of ``G_fn(z, c)`` (in eval mode) for the FID protocol, the latents drawn
    from the run's prior with seed 0 (codegan.evaluation.fakes.generate_fakes)."""
    from codegan.data.datasets import DATASETS
    from codegan.evaluation.fakes import generate_fakes, save_fakes

    images, codes = generate_fakes(G_fn, cfg.zn_dim, cfg.zc_dim,
                                   DATASETS[cfg.dataset].image_range, num, seed=0,
                                   prior=cfg.z_prior, scale=cfg.z_scale)
    save_fakes(path, images, codes, overwrite=True)


def plot(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    runs = {}
    for code, _ in SERIES:
        for name in sorted(os.listdir(args.out)):
            if name.startswith(f"{args.folder}-{code}-s"):
                path = os.path.join(args.out, name, "metrics.jsonl")
                if os.path.exists(path):
                    with open(path) as f:
                        runs.setdefault(code, {})[name] = [json.loads(x) for x in f if x.strip()]
    if not runs:
        raise od.BadInput(f"no runs of {args.folder} under {args.out}; train some first")
    key = "{}_best_of_runs"
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    head = "(mean ± population std (ddof 0) over seeds; min-max)"
    lines = [f"| code | seeds | epoch | iteration | " +
             " | ".join(f"{m} {head}" for m in METRICS) + " |",
             "|---|---|---|---|" + "---|" * len(METRICS)]
    for code, color in SERIES:
        recs = runs.get(code, {})
        if not recs:
            continue
        epochs = sorted({r["epoch"] for rs in recs.values() for r in rs})
        for ax, m in zip(axes, METRICS):
            mean, lo, hi = [], [], []
            for e in epochs:
                v = [r[key.format(m)] for rs in recs.values() for r in rs if r["epoch"] == e]
                mean.append(np.mean(v)), lo.append(min(v)), hi.append(max(v))
            ax.plot(epochs, mean, "o-", color=color, label=f"{code} ({len(recs)} seeds)")
            ax.fill_between(epochs, lo, hi, color=color, alpha=0.25)
            ax.set_title(f"{args.folder}: E-based {m}"), ax.set_xlabel("epoch (937 iterations)")
        for e in epochs:
            cells = []
            for m in METRICS:
                v = [r[key.format(m)] for rs in recs.values() for r in rs if r["epoch"] == e]
                cells.append(f"{np.mean(v):.3f} ± {np.std(v):.3f}; {min(v):.3f}-{max(v):.3f}")
            seeds = sorted(r["seed"] for rs in recs.values() for r in rs if r["epoch"] == e)
            it = next(r["iteration"] for rs in recs.values() for r in rs if r["epoch"] == e)
            lines.append(f"| {code} | {','.join(map(str, seeds))} | {e} | {it} | "
                         + " | ".join(cells) + " |")
    every = sorted({r["epoch"] for rs in (v for c in runs.values() for v in c.values())
                    for r in rs})
    for ax in axes:
        ax.set_xticks(every)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"{args.folder}-curves.png"), dpi=110)
    # then each run, epoch by epoch: the numbers the docs read, so none is copied by hand
    lines += ["", "Each run: " + " / ".join(METRICS) + " at each epoch.", "",
              "| code | seed | " + " | ".join(f"epoch {e}" for e in every) + " |",
              "|---|---:|" + "---|" * len(every)]
    for code in (c for c, _ in SERIES if c in runs):
        for rs in sorted(runs[code].values(), key=lambda rs: rs[0]["seed"]):
            by_epoch = {r["epoch"]: r for r in rs}
            cells = [" / ".join(f"{by_epoch[e][key.format(m)]:.3f}" for m in METRICS)
                     if e in by_epoch else "" for e in every]
            lines.append(f"| {code} | {rs[0]['seed']} | " + " | ".join(cells) + " |")
    with open(os.path.join(args.out, f"{args.folder}-table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    # grids of seed 0: rows official / ours, columns epochs
    cells = []
    for code in (c for c, _ in SERIES if c in runs):
        d = run_dir(args.out, args.folder, code, 0)
        row = sorted((int(n[6:-4]), os.path.join(d, n)) for n in os.listdir(d)
                     if n.startswith("grid-e")) if os.path.isdir(d) else []
        cells.append((code, row))
    ncol = max((len(r) for _, r in cells), default=0)
    if ncol:
        fig, axes = plt.subplots(len(cells), ncol, figsize=(3 * ncol, 3.15 * len(cells)),
                                 squeeze=False)
        for i, (code, row) in enumerate(cells):
            for j in range(ncol):
                ax = axes[i][j]
                ax.axis("off")
                if j < len(row):
                    ax.imshow(np.asarray(Image.open(row[j][1]).convert("L")), cmap="gray")
                    ax.set_title(f"{code}, seed 0, epoch {row[j][0]}", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, f"{args.folder}-grids.png"), dpi=110)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--official", help="checkout of learninginvision/CoDeGAN at 348d046")
    p.add_argument("--code", choices=("official", "ours"))
    p.add_argument("--folder", choices=tuple(DATA_FILE), default="MNIST")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--limit", type=int, default=None,
                   help="iterations per epoch (smoke tests only; default: the whole epoch)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fakes", type=int, default=10000,
                   help="generated images written after the last epoch, for FID (0: none)")
    p.add_argument("--data-root", default=os.environ.get("CODEGAN_DATA"),
                   help=f"folder holding {', '.join(DATA_FILE.values())} (default $CODEGAN_DATA)")
    p.add_argument("--out", default=os.path.join(REPO, "Figure", "official_vs_ours"))
    p.add_argument("--plot", action="store_true")
    args = p.parse_args(argv)
    try:
        if args.plot:
            plot(args)
            return 0
        if not args.code:
            raise od.BadInput("--code=official or --code=ours (or --plot)")
        if args.epochs < 0 or (args.limit is not None and args.limit < 1) or args.fakes < 0:
            raise od.BadInput(f"--epochs={args.epochs} --limit={args.limit} --fakes={args.fakes}: "
                              f"give --epochs >= 0 "
                              f"(0: the untrained networks only), --limit >= 1 and --fakes >= 0")
        if args.code == "official":
            od.check_official(args.official, args.folder)
        path = os.path.join(args.data_root or "", DATA_FILE[args.folder])
        if not args.data_root or not os.path.isfile(path):
            raise od.BadInput(f"{DATA_FILE[args.folder]} not found in --data-root="
                              f"{args.data_root!r}; point it (or $CODEGAN_DATA) at the folder "
                              f"that holds it")
        train(args)
    except od.BadInput as e:
        print(f"official_curves: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
