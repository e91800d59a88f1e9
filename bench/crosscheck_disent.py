"""Our disentanglement metrics against an independent implementation on the package registry:
``disent`` 0.8.0 (a port of google-research/disentanglement_lib), where the two protocols compute
the same thing from the same codes and factors.

    python -m venv --system-site-packages <venv>
    <venv>/bin/pip install --no-deps disent==0.8.0 lightning lightning-utilities torchmetrics
    <venv>/bin/python bench/crosscheck_disent.py [--n=5000] [--seeds=5]

(``--no-deps`` keeps this project's torch; disent is not a dependency of the project, so this is
a bench script and not a test.) What is compared, on synthetic codes (n, d) that mix the factors
(n, K) with noise, several seeds:

* MIG: ``mig.gap(mutual_info(discretize(codes)), entropy(fac))`` against disent's
  ``_compute_mig`` (histogram discretiser with 20 bins, sklearn MI, normalised gap). The whole
  metric core, so this checks discretisation, MI and the gap.
* SAP, continuous factors: ``sap.score_matrix`` (squared correlation) and the top-two gap against
  disent's ``_compute_score_matrix(continuous_factors=True)`` / ``_compute_avg_diff_top_two``.
  (For a categorical factor InfoGAN-CR scores the training accuracy of LinearSVC; disent the
  test accuracy on a separate split, so that part is not comparable.)
* DCI from an importance matrix: our disentanglement against disent's ``_disentanglement``;
  our completeness per factor against ``_completeness_per_factor``. (InfoGAN-CR averages the
  factors' completeness; disentanglement_lib weights them by their share of importance, so the
  headline completeness differs by design. The importance matrices differ too: InfoGAN-CR's
  Lasso / random forest against disentanglement_lib's gradient-boosted trees.)

FactorVAE, BetaVAE, Modularity and Explicitness follow InfoGAN-CR's variants, which disent does
not implement (the module docstrings name the differences); their tests check known answers.
Prints the largest absolute difference of each: MIG and SAP should agree to rounding (< 1e-9);
DCI to the size of the two guards against log(0) (ours 1e-12 inside the log, disent 1e-11 added
to every importance; < 1e-8).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def synthetic(n: int, seed: int):
    """Codes (n, 7) and factor indices (n, 4): two codes track one factor each, one mixes two,
    one is a coarse copy, the rest noise; factor sizes 3, 6, 10, 32 (as dSprites' shape, scale,
    and two finer ones)."""
    rng = np.random.default_rng(seed)
    sizes = (3, 6, 10, 32)
    fac = np.stack([rng.integers(0, s, n) for s in sizes], axis=1)
    f = fac / np.array(sizes, dtype=np.float64)
    codes = np.stack([
        f[:, 1] + 0.05 * rng.standard_normal(n),
        f[:, 2] + 0.2 * rng.standard_normal(n),
        0.5 * f[:, 2] + 0.5 * f[:, 3] + 0.1 * rng.standard_normal(n),
        np.round(4 * f[:, 3]) / 4,
        rng.standard_normal(n), rng.uniform(-1, 1, n), f[:, 0] + rng.standard_normal(n),
    ], axis=1)
    return codes, fac


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    try:
        from disent.metrics import _dci, _mig, _sap
        import disent
    except ImportError as e:
        print(f"disent is not importable ({e}); install it as this file's docstring says.",
              file=sys.stderr)
        return 2
    from codegan.metrics.disentanglement import _common as C
    from codegan.metrics.disentanglement import dci, mig, sap

    worst = {"mig": 0.0, "sap matrix": 0.0, "sap": 0.0, "dci disentanglement": 0.0,
             "dci completeness per factor": 0.0}
    values = {k: [] for k in ("mig", "sap", "dci")}
    for seed in range(args.seeds):
        codes, fac = synthetic(args.n, seed)
        # MIG: disent takes (d, n) codes and (K, n) factors
        ours = float(mig.gap(C.mutual_info(C.discretize(codes), fac), C.entropy(fac)).mean())
        theirs = float(_mig._compute_mig(codes.T, fac.T)["mig.discrete_score"])
        worst["mig"] = max(worst["mig"], abs(ours - theirs))
        values["mig"].append(ours)
        # SAP on continuous factors: the score matrix and its top-two gap
        m = sap.score_matrix(codes, fac, [False] * fac.shape[1])
        m_theirs = _sap._compute_score_matrix(codes.T, fac.T, codes.T, fac.T, True)
        worst["sap matrix"] = max(worst["sap matrix"], float(np.abs(m - m_theirs).max()))
        top = np.sort(m, axis=0)
        ours_sap = float((top[-1] - top[-2]).mean())
        worst["sap"] = max(worst["sap"], abs(ours_sap - float(_sap._compute_avg_diff_top_two(
            m_theirs))))
        values["sap"].append(ours_sap)
        # DCI from one importance matrix (ours: Lasso on z-scored codes and factors)
        r = dci.importances(codes, fac.astype(np.float64))
        res = dci.from_importances(r)
        worst["dci disentanglement"] = max(worst["dci disentanglement"], abs(
            res["dci_disentanglement"] - float(_dci._disentanglement(r))))
        per_factor = dci._one_minus_entropy(r)
        worst["dci completeness per factor"] = max(
            worst["dci completeness per factor"],
            float(np.abs(per_factor - _dci._completeness_per_factor(r)).max()))
        values["dci"].append(res["dci_disentanglement"])
    print(f"disent {getattr(disent, '__version__', '0.8.0')}; n={args.n}, {args.seeds} seeds of "
          f"synthetic codes (7 dimensions, 4 factors)")
    for k, v in values.items():
        print(f"  our {k} over the seeds: {min(v):.4f} .. {max(v):.4f}")
    print(f"{'compared':<32}{'largest |ours - disent|':>26}")
    for k, v in worst.items():
        print(f"{k:<32}{v:>26.3g}")
    ok = all(v < (1e-8 if k.startswith("dci") else 1e-9) for k, v in worst.items())
    print("all agree (MIG, SAP to rounding; DCI to the log guards)" if ok else
          "DIFFERENCES above the expected level")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
