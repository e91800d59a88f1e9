"""Seconds per training iteration with each speed switch off in turn, and the E-based evaluation.

    cd <repo> && python bench/bench_speed.py --dataset-dir Fashion-MNIST [--device cpu|cuda]
        [--iters 6] [--rounds 5] [--warmup 3] [--variants all] [--eval] [--threads 0]

Every variant is a Trainer built from the folder's param.yml (the official settings) with some
``speed`` keys changed. The variants run round-robin (``rounds`` x ``iters`` timed iterations
each, after ``warmup``), so load from other processes hits them alike; the table gives the median
seconds per iteration (and per G / E / D step), iterations per second and the ratio to the plain
path (every exact-maths switch off) measured in the same run. With ``critic > 1`` (CIFAR-10) the
seconds per iteration are averaged over whole critic cycles. ``--eval`` times one E-based
evaluation (encode the test set, k-means runs, all metrics) with each thread setting.
Prints the projected time of the official schedule (max_step epochs) for the fastest variant.
On the CPU at the MNIST / Fashion-MNIST settings one more variant runs round-robin with ours:
``official-style baseline`` (bench/official_style.py), the official loop's way of spending time
re-written on our networks; ``vs official`` is each variant's speed-up over it, same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from codegan.config import load_config  # noqa: E402
from codegan.device import cpu_has_native_bf16  # noqa: E402
from codegan.training.loop import Trainer  # noqa: E402

EXACT = ("fused_adam", "split_detached_view", "stack_d_batches")
PLAIN = {k: False for k in EXACT} | {"channels_last": False}
OFFICIAL = "official-style baseline"


def variants(names: str, device: str) -> dict:
    """name -> speed overrides. 'fast' is the param.yml config (the exact switches at their
    defaults: all on); 'plain' has every exact switch off."""
    v = {"plain (all off)": PLAIN, "fast (defaults)": {}}
    from codegan.config import BASE, schema_for

    schema = schema_for(BASE)  # CoDeGAN's settings, split_detached_view among them
    for k in EXACT:  # each exact switch flipped against its default, one at a time
        on = schema[k].default
        v[f"fast {'-' if on else '+'} {k}"] = {k: not on}
    v["fast + channels_last"] = {"channels_last": True}
    v["fast + 1 thread"] = {"num_threads": 1}
    v["fast + bf16"] = {"precision": "bf16"}
    v[OFFICIAL] = None  # built by official_style.OfficialStyle, not by a Trainer
    if "compile" in names:  # minutes of compilation on a CPU: only when asked for by name
        v["fast + compile"] = {"compile": True}
    if names != "all":
        keep = names.split(",")
        v = {n: o for n, o in v.items() if any(n.startswith(k) for k in keep)}
    return v


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_iteration(tr: Trainer) -> tuple:
    """One iteration as ``Trainer.train_iteration`` runs CoDeGAN's (G and E steps, then D),
    with each step timed: returns (total, G, E, D) seconds (G and E are 0 on iterations without
    a G step)."""
    dev = tr.device
    epoch = tr.iteration // tr.iters_per_epoch
    sync(dev)
    t0 = time.perf_counter()
    tg = te = 0.0
    if tr.iteration % tr.cfg.critic == 0:
        tr.method.g_step()
        sync(dev)
        t1 = time.perf_counter()
        tr.method.e_steps(epoch)
        sync(dev)
        t2 = time.perf_counter()
        tg, te = t1 - t0, t2 - t1
    t3 = time.perf_counter()
    tr.method.d_step()
    sync(dev)
    t4 = time.perf_counter()
    tr.iteration += 1
    tr._decay_lr()
    return t4 - t0, tg, te, t4 - t3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dataset-dir", default="Fashion-MNIST")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--iters", type=int, default=6, help="timed iterations per variant per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--variants", default="all", help="comma list of name prefixes, or all")
    ap.add_argument("--eval", action="store_true", help="also time the E-based evaluation")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--eval-reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="num_threads of every variant (0: "
                    "library default) except the '1 thread' one")
    args = ap.parse_args(argv)
    ddir = os.path.join(REPO, args.dataset_dir) if not os.path.isabs(args.dataset_dir) else \
        args.dataset_dir
    base = {"device": args.device, "progress": False, "num_threads": args.threads}
    cfg0 = load_config(os.path.join(ddir, "param.yml"), base)
    print(f"{cfg0.dataset} settings, device {args.device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.1f} at start")
    if not args.eval_only:
        bench_training(args, ddir, base, cfg0)
    if args.eval or args.eval_only:
        bench_eval(ddir, base, args.eval_reps)


def bench_training(args, ddir, base, cfg0):
    vs = variants(args.variants, args.device)
    if args.device == "cpu":  # bf16's speed depends on it: native, or emulated (slower)
        print("note: this CPU has native bfloat16 (avx512_bf16 / amx_bf16)"
              if cpu_has_native_bf16() else
              "note: this CPU has no native bfloat16 (no avx512_bf16 / amx): bf16 is emulated")
    trainers = {}
    if OFFICIAL in vs and (args.device != "cpu" or cfg0.dataset not in ("mnist", "fashion_mnist")):
        del vs[OFFICIAL]  # written for the gray 28x28 sets on the CPU (bench/official_style.py)
    for name, over in vs.items():
        t = time.perf_counter()
        if over is None:
            from official_style import OfficialStyle

            tr = OfficialStyle(load_config(os.path.join(ddir, "param.yml"), base), ddir)
        else:
            tr = Trainer(load_config(os.path.join(ddir, "param.yml"), {**base, **over}), ddir)
        for _ in range(args.warmup * tr.cfg.critic):
            timed_iteration(tr)
        trainers[name] = tr
        print(f"  built + warmed {name:<28} {time.perf_counter() - t:6.1f} s", flush=True)
    crit = cfg0.critic
    times = {n: [] for n in vs}
    for r in range(args.rounds):
        for name, tr in trainers.items():
            torch.set_num_threads(tr.cfg.num_threads or _default_threads())
            for _ in range(args.iters):
                # whole critic cycles, so G/E steps are counted in proportion
                cyc = [timed_iteration(tr) for _ in range(crit)]
                times[name].append(tuple(sum(c[i] for c in cyc) / crit for i in range(4)))
        print(f"  round {r + 1}/{args.rounds} done; load average {os.getloadavg()[0]:.1f}",
              flush=True)
    med = {n: [statistics.median(t[i] for t in ts) for i in range(4)] for n, ts in times.items()}
    ref = med["plain (all off)"][0] if "plain (all off)" in med else None
    off = med[OFFICIAL][0] if OFFICIAL in med else None
    print(f"\n{'variant':<30}{'s/iter':>8}{'it/s':>7}{'G s':>8}{'E s':>8}{'D s':>8}"
          f"{'vs plain':>10}{'vs official':>13}")
    for n, (tot, g, e, d) in med.items():
        ratio = f"{ref / tot:9.2f}x" if ref else ""
        ratio_off = f"{off / tot:12.2f}x" if off else ""
        print(f"{n:<30}{tot:8.3f}{1 / tot:7.2f}{g:8.3f}{e:8.3f}{d:8.3f}{ratio:>10}{ratio_off:>13}")
    best = min((n for n in med if n != OFFICIAL), key=lambda n: med[n][0])
    tr = trainers[best]
    total = cfg0.max_step * tr.iters_per_epoch
    print(f"\nofficial schedule: {cfg0.max_step} epochs x {tr.iters_per_epoch} iterations = "
          f"{total} iterations; at {med[best][0]:.3f} s/iter ({best}) that is "
          f"{total * med[best][0] / 3600:.1f} h (evaluations not counted)")


def bench_eval(ddir, base, reps=3):
    from codegan.evaluation.e_based import encode, eval_encoder, evaluate_e_based, kmeans_scores

    print("\nE-based evaluation (10,000 test images, kmeans_runs seeded k-means, all metrics):")
    for threads in (0, 1):
        cfg = load_config(os.path.join(ddir, "param.yml"), {**base, "num_threads": threads})
        tr = Trainer(cfg, ddir)
        tx, ty = tr.eval_data["test_x"], tr.eval_data["test_y"]
        torch.set_num_threads(threads or _default_threads())
        evaluate_e_based(tr.nets, cfg, tx[:2000], ty[:2000], tr.device)  # warm-up
        te0, te, tk, tt = [], [], [], []
        for _ in range(reps):
            tr.nets.eval()
            t0 = time.perf_counter()
            encode(tr.nets.enc_c, tx, tr.image_range, cfg.eval_batch_size, tr.device)  # NCHW
            t1 = time.perf_counter()
            feats = encode(eval_encoder(tr.nets, cfg, tr.device), tx, tr.image_range,
                           cfg.eval_batch_size, tr.device)  # what evaluate_e_based uses
            t2 = time.perf_counter()
            tr.nets.train()
            kmeans_scores(feats, ty.numpy(), cfg.zc_dim, cfg.kmeans_runs, cfg.seed, threads)
            t3 = time.perf_counter()
            res = evaluate_e_based(tr.nets, cfg, tx, ty, tr.device)
            te0.append(t1 - t0)
            te.append(t2 - t1)
            tk.append(t3 - t2)
            tt.append(res["eval_seconds"])
        m = statistics.median
        print(f"  num_threads={threads or 'default'}: encode {m(te):.2f} s (plain NCHW module "
              f"{m(te0):.2f} s, {m(te0) / m(te):.2f}x), k-means x{cfg.kmeans_runs} + metrics "
              f"{m(tk):.2f} s, whole evaluate_e_based {m(tt):.2f} s (median of {reps}; "
              f"eval_batch_size {cfg.eval_batch_size})", flush=True)


_DEFAULT_THREADS = torch.get_num_threads()


def _default_threads():
    return _DEFAULT_THREADS


if __name__ == "__main__":
    main()
