"""Cost of each disentanglement metric at the published dSprites protocol sizes (500 groups of
100 images; std and labelled sets of 73,728), on the CPU, for three representations of the
dSprites factor grid (sizes 1, 3, 6, 40, 32, 32; the shape categorical): the true factors
(perfect), a 45-degree mix of posX and posY (two factors entangled), and Gaussian noise. The
"images" are the factor indices themselves (``SyntheticFactors``), so the times are the
metrics' own, without an encoder.

    python bench/bench_disentanglement.py [--metrics=factor_vae,mig] [--n=73728]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from codegan.metrics.disentanglement import METRICS, SyntheticFactors

SIZES = (1, 3, 6, 40, 32, 32)
HEADLINE = {"dci": "dci_disentanglement"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metrics", default=",".join(METRICS))
    ap.add_argument("--n", type=int, default=None, help="labelled/std set size (default: the "
                                                        "protocol's 73,728)")
    args = ap.parse_args()
    mix = np.eye(6)[1:]  # drop the constant colour: 5 codes, one per factor
    mixed = mix.copy()  # codes 3 and 4 read (posX + posY) and (posX - posY)
    mixed[3:5, 4:6] = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    reps = {"perfect": SyntheticFactors(SIZES, mix.T, categorical=(1,)),
            "posX/posY mixed": SyntheticFactors(SIZES, mixed.T, categorical=(1,))}
    noise_rng = np.random.default_rng(0)
    print(f"{'metric':<14}{'representation':<18}{'score':>8}{'seconds':>10}")
    for name in args.metrics.split(","):
        fn = METRICS[name]
        extra = {} if args.n is None or name in ("factor_vae", "beta_vae") else {"n": args.n}
        for label, factors in [*reps.items(), ("noise", reps["perfect"])]:
            represent = (lambda x: noise_rng.normal(size=(len(x), 5))) if label == "noise" \
                else (lambda x: x)
            t0 = time.perf_counter()
            res = fn(represent, factors, seed=0, **extra)
            dt = time.perf_counter() - t0
            key = HEADLINE.get(name, name)
            print(f"{name:<14}{label:<18}{res[key]:>8.3f}{dt:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
