"""Speed of the TensorFlow Inception network (FID) with each batch norm folded into its
convolution, against the same network with the batch norms apart, measured in one run.

    cd <repo> && python bench/bench_inception_fold.py [--images 100] [--reps 3] [--threads 1]
        [--data-root ../shared/datasets] [--out bench/results/cpu_inception_fold.txt]

Both networks get the same ``--images`` CIFAR-10 test images (a fixed shuffle: the file is
sorted by class), in batches of 50, ``--reps`` times, alternating, after one warm-up batch
each. Printed: seconds per image of each (the fastest repetition), the ratio, and the largest
difference of their pool_3 features (float32 rounding: about 2e-6 of the largest feature), and
the FID of the first half of the images against the second under each.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402

from codegan.errors import append_file, cli_guard  # noqa: E402
from codegan.evaluation.inception_torchscript_tf import InceptionPool3TF  # noqa: E402
from codegan.evaluation.tf_runtime import import_tensorflow  # noqa: E402
from codegan.metrics.fid import feature_stats, frechet_distance  # noqa: E402


@cli_guard  # a full disk or a bad --out: one line, not a traceback
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-root", default=os.environ.get("CODEGAN_DATA", "../shared/datasets"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.images < 1 or args.reps < 1 or args.threads < 1:
        ap.error("--images, --reps and --threads must be at least 1")
    path = os.path.join(args.data_root, "cifar10.npz")
    if not os.path.isfile(path):
        ap.error(f"{path} is not there: pass --data-root=<folder holding cifar10.npz>")
    tf = import_tensorflow(threads=args.threads)
    with np.load(path) as f:
        x = f["x_test"]
    x = x[np.random.default_rng(0).permutation(len(x))[:args.images]]
    nets = {"apart": InceptionPool3TF(fold_bn=False), "folded": InceptionPool3TF()}
    for net in nets.values():
        net.features_and_logits(x[:50])  # traces the graph
    seconds = {name: [] for name in nets}
    feats = {}
    for _ in range(args.reps):
        for name, net in nets.items():
            t = time.perf_counter()
            feats[name] = net.features_and_logits(x, batch_size=50)[0]
            seconds[name].append((time.perf_counter() - t) / len(x))
    best = {name: min(s) for name, s in seconds.items()}
    diff = np.abs(feats["apart"] - feats["folded"]).max()
    half = len(x) // 2  # FID of the first half against the second, under each network
    fid = {name: frechet_distance(*feature_stats(f[:half]), *feature_stats(f[half:]))
           for name, f in feats.items()}
    lines = [
        "# Inception pool_3 in TensorFlow: batch norms folded into the convolutions vs apart",
        f"# command: python bench/bench_inception_fold.py --images {args.images} "
        f"--reps {args.reps} --threads {args.threads}",
        f"# machine: {platform.machine()}, {os.cpu_count()} CPUs; TensorFlow {tf.__version__}, "
        f"{args.threads} thread(s); fastest of {args.reps} alternating repetitions",
        *(f"{name}: {best[name]:.3f} s per image (all: "
          f"{', '.join(f'{s:.3f}' for s in seconds[name])})" for name in nets),
        f"ratio apart / folded: {best['apart'] / best['folded']:.2f}",
        f"largest feature difference: {diff:.2e} (largest feature "
        f"{np.abs(feats['apart']).max():.2f})",
        f"FID of the first {half} images against the other {len(x) - half}: apart "
        f"{fid['apart']:.6f}, folded {fid['folded']:.6f}",
    ]
    print("\n".join(lines))
    if args.out:
        append_file(args.out, "\n".join(lines) + "\n\n")  # a failed write leaves no half run
    return 0


if __name__ == "__main__":
    sys.exit(main())
