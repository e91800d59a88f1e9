"""The multi-process check: one process vs ``torchrun --nproc_per_node=2`` (gloo on
the CPU, NCCL on GPUs), same settings and global batch, compared weight by weight.

    python bench/bench_distributed.py [--data_root=../shared/datasets] [--iters=20]

Two cases: ClusterGAN on MNIST with a BatchNorm-free G (every loss a mean of per-image terms:
the two runs must agree to float precision) and CoDeGAN on MNIST as published (BatchNorm in G,
SupCon over the batch: each process normalises and contrasts its own half, so the runs differ;
the size of that difference is what is printed). Also the wall time of each run (on a shared
2-core CPU this says little; on GPUs it is the speed of N processes against one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))


def run(folder, nproc, argv, env):
    launcher = [sys.executable] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    t0 = time.perf_counter()
    p = subprocess.run([*launcher, "train.py", *argv], cwd=folder, env=env, capture_output=True,
                       text=True)
    if p.returncode:
        sys.exit(p.stderr[-2000:])
    return time.perf_counter() - t0


def final_nets(out):
    from codegan.checkpoint import list_checkpoints
    from codegan.training.runs import list_runs

    return torch.load(list_checkpoints(list_runs(out)[-1])[-1], weights_only=True)["nets"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data_root", default=os.path.join(os.path.dirname(REPO), "shared", "datasets"))
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args()
    from test_distributed import PLAIN_G_MODELS

    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    common = [f"--data_root={args.data_root}", f"--max_iters={args.iters}", "--kmeans_runs=1",
              "--progress=false", "--num_threads=1", "--device=cpu" if not torch.cuda.is_available()
              else "--device=auto"]
    print(f"torch {torch.__version__}; {os.cpu_count()} CPUs; "
          f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}")
    cases = [("ClusterGAN, BatchNorm-free G (must agree)", PLAIN_G_MODELS, ["--method=clustergan"]),
             ("CoDeGAN as published (BatchNorm, SupCon: may differ)", None, [])]
    for title, models, extra in cases:
        with tempfile.TemporaryDirectory() as tmp:
            folder = os.path.join(tmp, "MNIST")
            os.mkdir(folder)
            for f in ("param.yml", "train.py", "models.py"):
                shutil.copy(os.path.join(REPO, "MNIST", f), folder)
            if models:
                with open(os.path.join(folder, "models.py"), "w") as f:
                    f.write(models)
            secs, nets = {}, {}
            for n in (1, 2):
                out = os.path.join(tmp, f"out{n}")
                secs[n] = run(folder, n, [*common, *extra, f"--out={out}"], env)
                nets[n] = final_nets(out)
            print(f"\n{title}: {args.iters} iterations, global batch as param.yml")
            print(f"  {'network':<6}{'max |w1 - w2|':>16}{'max |w1|':>12}")
            for part in sorted({k.split('.')[0] for k in nets[1]}):
                keys = [k for k in nets[1] if k.startswith(part + ".") and
                        nets[1][k].is_floating_point()]
                diff = max(float((nets[1][k] - nets[2][k]).abs().max()) for k in keys)
                size = max(float(nets[1][k].abs().max()) for k in keys)
                print(f"  {part:<6}{diff:>16.3e}{size:>12.3e}")
            print(f"  wall time (start-up and evaluation included): 1 process {secs[1]:.1f} s, "
                  f"2 processes {secs[2]:.1f} s")


if __name__ == "__main__":
    main()
