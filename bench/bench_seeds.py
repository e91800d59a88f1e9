"""Throughput of several seeds sharing one device: ``train.py --seeds=0..k-1 --jobs=k`` for
k = 1, 2, 4, 8, aggregate iterations per second (k runs x ``--iters`` / wall time, start-up and
the one final evaluation included) and the ratio to k = 1, measured in the same invocation.
On a GPU the MNIST-sized loop is launch-bound, so several processes fill the card (15); on a 2-core CPU expect no gain.

    python bench/bench_seeds.py [--folder=MNIST] [--iters=300] [--jobs=1,2,4,8] [--data_root=DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", default="MNIST")
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--jobs", default="1,2,4,8")
    ap.add_argument("--data_root", default=os.path.join(os.path.dirname(REPO), "shared", "datasets"))
    args = ap.parse_args()
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    print(f"{args.folder} settings, {args.iters} iterations per run, {dev}, torch {torch.__version__}")
    print(f"{'runs':>5}{'wall s':>10}{'it/s total':>12}{'vs 1 run':>10}")
    base = None
    for k in (int(j) for j in args.jobs.split(",")):
        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "train.py", f"--seeds={','.join(map(str, range(k)))}",
                   f"--jobs={k}", f"--max_iters={args.iters}", f"--out={out}",
                   f"--data_root={args.data_root}", "--kmeans_runs=1", "--progress=false"]
            t0 = time.perf_counter()
            p = subprocess.run(cmd, cwd=os.path.join(REPO, args.folder), capture_output=True,
                               text=True, env={**os.environ, "PYTHONPATH": REPO})
            wall = time.perf_counter() - t0
        if p.returncode:
            sys.exit(p.stderr[-2000:])
        rate = k * args.iters / wall
        base = base or rate
        print(f"{k:>5}{wall:>10.1f}{rate:>12.2f}{rate / base:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
