"""Speed of the intra-class FID's two routes to ``Tr((S_fake S_real)^(1/2))``, measured in one run.

    cd <repo> && python bench/bench_icfid.py [--codes 2] [--classes 3] [--per-code 1000]
        [--per-class 6000] [--dim 2048] [--threads 1] [--out bench/results/cpu_icfid.txt]

``square root``: one D x D ``eigh`` per code (S_fake^(1/2)), then per class a D x D ``eigvalsh``;
the route every FID took before. ``factor``: a code's N fakes give S_fake = A^T A with A (N, D),
and per class one N x N ``eigvalsh`` of A S_real A^T (codegan.metrics.fid.trace_sqrt_product);
taken when N < D, as with 10,000 fakes over ten codes against 2048-d features.

Features are Gaussian draws with a different per-dimension scale for each class and code, at the
sizes of the real protocol by default (1,000 fakes a code, 6,000 training images a class,
2048-d); the cost depends on the sizes only. Printed: the seconds of each route (one pass each,
``square root`` first), their ratio, and the largest difference between their FID matrices.
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
from threadpoolctl import threadpool_limits  # noqa: E402

from codegan.errors import append_file, cli_guard  # noqa: E402
from codegan.metrics.fid import covariance_factor, feature_stats, intra_class_fid  # noqa: E402


@cli_guard  # a full disk or a bad --out: one line, not a traceback
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--codes", type=int, default=2)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--per-code", type=int, default=1000)
    ap.add_argument("--per-class", type=int, default=6000)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if min(args.codes, args.classes, args.threads) < 1 or min(args.per_code,
                                                                args.per_class, args.dim) < 2:
        ap.error("--codes, --classes and --threads must be at least 1; --per-code, --per-class "
                 "and --dim at least 2")
    if args.per_code >= args.dim:
        ap.error(f"--per-code={args.per_code} is not below --dim={args.dim}: the factor route "
                 f"is only taken with fewer fakes a code than feature dimensions")
    rng = np.random.default_rng(0)

    def draw(n):
        return rng.normal(size=(n, args.dim)) * rng.uniform(0.2, 2.0, args.dim) + rng.normal(
            size=args.dim)

    with threadpool_limits(limits=args.threads):
        real = {k: feature_stats(draw(args.per_class)) for k in range(args.classes)}
        feats = {c: draw(args.per_code) for c in range(args.codes)}
        fake = {c: feature_stats(f) for c, f in feats.items()}
        t = time.perf_counter()
        plain = intra_class_fid(fake, real)
        t_plain = time.perf_counter() - t
        t = time.perf_counter()
        fast = intra_class_fid(fake, real, {c: covariance_factor(f) for c, f in feats.items()})
        t_fast = time.perf_counter() - t
    diff = np.abs(np.array(plain["matrix"]) - np.array(fast["matrix"])).max()
    lines = [
        "# intra-class FID: square-root route (D x D eigh + eigvalsh) vs factor route (N x N)",
        f"# command: python bench/bench_icfid.py --codes {args.codes} --classes {args.classes} "
        f"--per-code {args.per_code} --per-class {args.per_class} --dim {args.dim} "
        f"--threads {args.threads}",
        f"# machine: {platform.machine()}, {os.cpu_count()} CPUs; NumPy {np.__version__}, "
        f"{args.threads} BLAS thread(s); {args.codes} x {args.classes} distances, one pass each",
        f"square root: {t_plain:.1f} s",
        f"factor: {t_fast:.1f} s (covariance factors included)",
        f"ratio square root / factor: {t_plain / t_fast:.1f}",
        f"largest FID difference: {diff:.2e} (largest FID {np.max(plain['matrix']):.1f})",
    ]
    print("\n".join(lines))
    if args.out:
        append_file(args.out, "\n".join(lines) + "\n\n")  # a failed write leaves no half run
    return 0


if __name__ == "__main__":
    sys.exit(main())
