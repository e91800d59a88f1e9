"""Seconds per training iteration of each dataset folder at its official settings (param.yml).

For every folder a Trainer is built from the folder's own param.yml (official batch sizes,
networks, losses, augmentation), ``--warmup`` iterations are run and discarded, then ``--iters``
iterations are timed one by one (rounded up to whole ``critic`` cycles, since only every
``critic``-th iteration has the G and E steps). Printed per folder: the mean over the timed
iterations (= seconds per iteration averaged over the critic cycle), the median, and the ratio to
the MNIST folder measured in the same run (the baseline).

CIFAR-10 and COIL-20 read the real data (``--data_root``, default $CODEGAN_DATA); 3D-Chairs and
3D-Cars are not on this machine, so they read generated images in their raw formats (speed does
not depend on pixel values).

    python bench/bench_folders.py                       # quick: 1 warm-up, 1 critic cycle
    python bench/bench_folders.py --iters=9 --warmup=3  # steadier numbers
    python bench/bench_folders.py --folders=COIL-20,3D-Cars --device=cuda
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))

FOLDERS = ["MNIST", "CIFAR-10", "COIL-20", "3D-Chairs", "3D-Cars"]


def fixture_root(tmp: str) -> str:
    """Raw-format 3D data in ``tmp``: 10 chair models x 8 renders, 10 cars x 96 views."""
    from extra_fixtures import make_cars, make_chairs

    views = tuple((p, t) for p in (20, 30) for t in (0, 90, 180, 270))
    make_chairs(tmp, n_models=10, views=views)
    make_cars(tmp, n_files=10)
    return tmp


def bench_folder(folder: str, data_root: str, fixtures: str, device: str, warmup: int,
                 iters: int) -> dict:
    import torch

    from codegan.config import load_config
    from codegan.training.loop import Trainer

    d = os.path.join(REPO, folder)
    over = {"device": device, "progress": False,
            "data_root": fixtures if folder.startswith("3D") else data_root}
    if folder == "3D-Cars":
        over["cars_models"] = list(range(10))
    cfg = load_config(os.path.join(d, "param.yml"), over)
    tr = Trainer(cfg, d)
    n = math.ceil(iters / cfg.critic) * cfg.critic
    sync = torch.cuda.synchronize if tr.device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        tr.train_iteration()
    sync()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        tr.train_iteration()
        sync()
        times.append(time.perf_counter() - t0)
    return {"folder": folder, "device": str(tr.device), "critic": cfg.critic,
            "batches": f"G {cfg.g_batch_size} / D {cfg.d_batch_size} / E "
                       f"{cfg.e_batch_size or f'{cfg.ec_batch_size}, {cfg.ez_batch_size}'}",
            "timed_iters": n, "mean_s": statistics.fmean(times),
            "median_s": statistics.median(times), "per_iter_s": [round(t, 3) for t in times]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folders", default=",".join(FOLDERS))
    p.add_argument("--iters", type=int, default=1, help="timed iterations (whole critic cycles)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data_root", default=None)
    p.add_argument("--json", default=None, help="also write the results here")
    a = p.parse_args(argv)
    import torch

    from codegan.data.datasets import resolve_data_root

    folders = [f for f in a.folders.split(",") if f]
    if "MNIST" not in folders:
        folders.insert(0, "MNIST")  # the baseline of the ratios
    root = resolve_data_root(a.data_root)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {a.device}; "
          f"warm-up {a.warmup}, timed {a.iters} (whole critic cycles)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fixtures = fixture_root(tmp) if any(f.startswith("3D") for f in folders) else tmp
        for f in folders:
            r = bench_folder(f, root, fixtures, a.device, a.warmup, a.iters)
            rows.append(r)
            print(f"{f:<10} {r['batches']:<28} critic {r['critic']}  mean {r['mean_s']:8.3f} "
                  f"s/iter  median {r['median_s']:8.3f}  ({r['per_iter_s']})", flush=True)
    base = rows[0]["mean_s"]
    print("\nratio to MNIST (same run):")
    for r in rows:
        r["ratio_to_mnist"] = r["mean_s"] / base
        print(f"  {r['folder']:<10} {r['ratio_to_mnist']:8.1f}x")
    if a.json:
        with open(a.json, "x") as fh:
            json.dump(rows, fh, indent=1)
    return rows


if __name__ == "__main__":
    main()
