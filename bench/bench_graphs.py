"""Iterations per second of the training loop on a GPU: CUDA graphs, the per-iteration loss
check, bf16 and channels_last, each switched on and off, ratios against today's eager path
measured in the same run.

    cd <repo> && python bench/bench_graphs.py --dataset-dir MNIST [--iters 100] [--rounds 3]
        [--variants all] [--data_root DIR]
    python bench/bench_graphs.py --concurrent 1,2,4,8 --dataset-dir MNIST   # runs sharing a GPU

Each variant is a Trainer built from the folder's param.yml (the official settings) with some
keys changed; after a warm-up (which includes the graphs' 3 eager iterations and the capture)
the variants run round-robin, ``rounds`` blocks of ``iters`` iterations each, so load and clock
changes hit them alike. A timed iteration is what ``Trainer.run`` does per iteration: the
method's steps, the loss check every ``finite_check_every`` iterations (one host
synchronisation), the logged losses read every 10th. The table gives the median it/s and the
ratio to ``eager (defaults)``, and the projected time of the official schedule (max_step epochs)
for each. Evaluation and checkpoints are left out (minutes of a full schedule: see SPEED.md).

``--variants``: ``all``, or names of the table's rows separated by commas.
``--concurrent N,...``: N processes of ``--concurrent-variant`` (default ``graphs``) share the
GPU (seeds 0..N-1), timed together after each has warmed up; prints the aggregate it/s.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from codegan.config import load_config  # noqa: E402
from codegan.training.loop import Trainer  # noqa: E402

CHECK100 = {"finite_check_every": 100}
VARIANTS = {
    "eager (defaults)": {},
    "eager check/100": CHECK100,
    "eager + bf16": {"precision": "bf16"},
    "graphs check/1": {"cuda_graphs": True},
    "graphs": {"cuda_graphs": True, **CHECK100},
    "graphs + bf16": {"cuda_graphs": True, "precision": "bf16", **CHECK100},
    "graphs + channels_last": {"cuda_graphs": True, "channels_last": True, **CHECK100},
    "graphs - fused_adam": {"cuda_graphs": True, "fused_adam": False, **CHECK100},
}


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def build(dataset_dir: str, over: dict, data_root: str | None, seed: int = 0,
          device: str = "cuda") -> Trainer:
    extra = {"data_root": data_root} if data_root else {}
    extra["device"] = device
    cfg = load_config(os.path.join(dataset_dir, "param.yml"),
                      {"progress": False, "seed": seed, **extra, **over})
    return Trainer(cfg, dataset_dir)


def block(tr: Trainer, iters: int) -> float:
    """Seconds for ``iters`` iterations as Trainer.run spends them (without evaluation)."""
    every = tr.cfg.finite_check_every
    sync()
    t0 = time.perf_counter()
    for _ in range(iters):
        losses = tr.train_iteration()
        it = tr.iteration
        if every and it % every == 0 and tr.nonfinite_loss(losses):
            raise RuntimeError(f"non-finite loss at {it}")
        if it % 10 == 0:
            {k: float(v) for k, v in losses.items()}
    sync()
    return time.perf_counter() - t0


def bench_variants(args) -> None:
    keep = [k.strip() for k in args.variants.split(",")]
    unknown = [k for k in keep if k not in VARIANTS and args.variants != "all"]
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    names = list(VARIANTS) if args.variants == "all" else keep
    print(f"{os.path.basename(args.dataset_dir)} settings, {device_name(args.device)}, "
          f"torch {torch.__version__}; {args.rounds} rounds x {args.iters} iterations per variant")
    trainers, failed = {}, {}
    for n in names:
        t0 = time.perf_counter()
        try:
            tr = build(args.dataset_dir, VARIANTS[n], args.data_root, device=args.device)
            block(tr, args.warmup)
            trainers[n] = tr
            extra = (f", {tr.graphs.captures} graph(s) captured" if tr.graphs is not None else "")
            print(f"  built + warmed {n:<30} {time.perf_counter() - t0:5.1f} s{extra}", flush=True)
        except Exception as e:  # one variant's failure must not hide the others' numbers
            failed[n] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            print(f"  FAILED {n}: {failed[n]}", flush=True)
    times = {n: [] for n in trainers}
    for r in range(args.rounds):
        for n, tr in trainers.items():
            try:
                times[n].append(block(tr, args.iters) / args.iters)
            except Exception as e:
                failed[n] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        print(f"  round {r + 1}/{args.rounds} done", flush=True)
    base = statistics.median(times["eager (defaults)"]) if times.get("eager (defaults)") else None
    tr0 = next(iter(trainers.values()))
    ipe = args.epoch_iters or tr0.iters_per_epoch  # a subset of the data: the full set's count
    total = tr0.cfg.max_step * ipe
    print(f"\n{'variant':<32}{'s/iter':>9}{'it/s':>9}{'vs eager':>10}{'full schedule':>15}")
    for n, ts in times.items():
        if not ts or n in failed:
            continue
        s = statistics.median(ts)
        ratio = f"{base / s:.2f}x" if base else "-"
        print(f"{n:<32}{s:9.4f}{1 / s:9.1f}{ratio:>10}{total * s / 3600:13.2f} h")
    for n, why in failed.items():
        print(f"{n:<32} failed: {why}")
    print(f"\nofficial schedule: {tr0.cfg.max_step} epochs x {ipe} iterations = "
          f"{total} iterations (evaluations not counted)")


def device_name(device: str) -> str:
    return torch.cuda.get_device_name() if device == "cuda" else device


def _worker(args, seed: int, barrier, q) -> None:
    tr = build(args.dataset_dir, VARIANTS[args.concurrent_variant], args.data_root, seed,
               args.device)
    block(tr, args.warmup)
    barrier.wait()  # every run warmed up: the timed blocks overlap
    q.put(args.iters * args.rounds / block(tr, args.iters * args.rounds))


def bench_concurrent(args) -> None:
    ctx = mp.get_context("spawn")
    print(f"concurrent runs of '{args.concurrent_variant}' on one "
          f"{device_name(args.device)}, {args.iters * args.rounds} iterations each")
    for n in [int(k) for k in args.concurrent.split(",")]:
        q, barrier = ctx.Queue(), ctx.Barrier(n)
        procs = [ctx.Process(target=_worker, args=(args, s, barrier, q)) for s in range(n)]
        for p in procs:
            p.start()
        rates = [q.get() for _ in range(n)]
        for p in procs:
            p.join()
        print(f"  {n} runs: {sum(rates):7.1f} it/s together, {statistics.mean(rates):6.1f} "
              f"it/s each", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset-dir", default="MNIST")
    ap.add_argument("--data_root", default=None)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=12)
    ap.add_argument("--variants", default="all")
    ap.add_argument("--epoch_iters", type=int, default=None,
                    help="iterations per epoch of the full training set, for the projection "
                         "when the bench reads a subset")
    ap.add_argument("--concurrent", default=None)
    ap.add_argument("--concurrent-variant", default="graphs")
    ap.add_argument("--device", default="cuda", help="cpu: only to try the script (no graphs)")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_graphs.py measures CUDA graphs: it needs a CUDA device (--device=cpu "
                 "only tries the script).")
    args.dataset_dir = os.path.join(REPO, args.dataset_dir) if not os.path.isabs(
        args.dataset_dir) else args.dataset_dir
    if args.concurrent:
        bench_concurrent(args)
    else:
        bench_variants(args)


if __name__ == "__main__":
    main()
