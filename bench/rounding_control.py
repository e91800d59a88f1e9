"""Control for bench/official_diff.py: how fast does a rounding-level difference grow in our own
training, with no official code involved?

    python bench/rounding_control.py --folder=COIL-20 --iters=12

Two of our Trainers, float64 on the CPU, the same weights, settings and draws (the global RNG is
saved before the first's iteration and restored before the second's), differ only in
``stack_d_batches``: one D call on real and fake images, or two. The scores are the same; only the
order of the gradient's float sums differs. After each iteration the script prints the largest
relative difference of every network's state and every Adam state between the two, the cells of
official_diff.py. Settings are official_diff.py's small ones (COIL-20: batches of 4, synthetic
32x32 data, chain_step 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (REPO, os.path.join(REPO, "bench")):
    if p not in sys.path:
        sys.path.insert(0, p)

import official_diff as od  # noqa: E402
import official_diff_resnet as rn  # noqa: E402


def main(argv=None) -> int:
    import torch

    from codegan.config import load_config
    from codegan.training.loop import Trainer

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--folder", default="COIL-20", choices=rn.RESNET_FOLDERS)
    p.add_argument("--iters", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    ours_dir = os.path.join(REPO, args.folder)
    small = od.SMALL_3D if args.folder == "3D-Chairs" else od.SMALL_RESNET
    with tempfile.TemporaryDirectory() as tmp:
        over = dict(small, device="cpu", progress=False, kmeans_runs=1, seed=args.seed,
                    out=os.path.join(tmp, "runs"))
        over["data_root"] = rn.make_data(tmp, args.folder, od.IPE[args.folder] *
                                         small["d_batch_size"])
        torch.set_default_dtype(torch.float64)
        trs = []
        for stack in (True, False):
            torch.manual_seed(args.seed)
            trs.append(Trainer(load_config(os.path.join(ours_dir, "param.yml"),
                                           dict(over, stack_d_batches=stack)), ours_dir))
        for t in trs:  # real batches in float64, as official_diff.py has them
            t.real = (lambda real: lambda xb: real(xb).to(torch.float64))(t.real)
        a, b = trs
        b.nets.load_state_dict(a.nets.state_dict())
        a.nets.train()
        b.nets.train()
        print(f"rounding_control: {args.folder}, ours with one D call against ours with two, "
              f"{args.iters} iterations, float64 on the CPU")
        worst = {}
        for it in range(args.iters):
            rng = torch.get_rng_state()
            a.train_iteration()
            torch.set_rng_state(rng)
            b.train_iteration()
            row = {}
            for net, _ in rn.NETS:
                sa, sb = getattr(a.nets, net).state_dict(), getattr(b.nets, net).state_dict()
                fed = rn.bn_fed(sa.keys()) if net == "G" else ()
                row[net] = max((od.rel_diff(v, sb[k]) for k, v in sa.items()
                                if v.is_floating_point() and k not in fed
                                and not (net == "G" and "running_mean" in k)), default=0.0)
                pa = dict(getattr(a.nets, net).named_parameters())
                pb = dict(getattr(b.nets, net).named_parameters())
                cell = 0.0
                for k in pa:
                    s1, s2 = a.opt[net].state.get(pa[k]), b.opt[net].state.get(pb[k])
                    if s1 and s2 and k not in fed:
                        cell = max(cell, od.rel_diff(s1["exp_avg"], s2["exp_avg"]),
                                   od.rel_diff(s1["exp_avg_sq"], s2["exp_avg_sq"]))
                row[f"opt {net}"] = cell
            for k, v in row.items():
                worst[k] = max(worst.get(k, 0.0), v)
            print(f"it {it:3d}: " + "  ".join(f"{k} {v:.1e}" for k, v in row.items()),
                  flush=True)
        print("| folder | iterations | " + " | ".join(worst) + " |")
        print(f"| {args.folder} | {args.iters} | "
              + " | ".join(f"{v:.1e}" for v in worst.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
