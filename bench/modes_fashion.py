"""The five Fashion-MNIST modes at one equal budget, plus the pre-trainings' own scores.

    PYTHONPATH=. CODEGAN_DATA=/path/to/datasets python bench/modes_fashion.py \
        --iters=300 --pretrain_iters=300 --meta_iters=100 --device=cpu --out=<out>

Modes (Fashion-MNIST/param.yml settings otherwise; every mode trains ``--iters`` iterations):
  unsupervised            E starts from random weights and trains from iteration 0
  pretrained              E from the SimCLR pre-training, no encoder step for the first
                          ``chain_frac`` of the iterations (the paper: 200 of 600 epochs)
  100 labels              few_labels (chain 0: the labelled batch joins only E's L_c, as the
                          official code), E from random weights, trains from iteration 0
  100 labels + pretrained few_labels + the SimCLR E, no encoder step for ``chain_frac`` (the
                          labelled batch joins G's L_c meanwhile, then E's)
  100 labels + meta       few_labels + the MAML E (same labelled subset), likewise
The official code also starts G and D of the last three modes from pre-trained weights (pre_G,
pre_D; not published). ``--gd_start=unsup`` (default) starts them from the unsupervised run's last
checkpoint, the project's recipe (docs/modes.md): those modes' G and D then have trained
``2 x --iters`` iterations in all. ``--gd_start=scratch`` starts them from random weights.
Pre-trainings: SimCLR for ``--pretrain_iters`` iterations, MAML for ``--meta_iters`` outer steps,
each scored by k-means on its own E_c features.

Prints one table of the E-based ACC (Hungarian and purity) / NMI / ARI (mean over
``--kmeans_runs`` seeded k-means runs) on the 10,000 real test images, with each run's seconds,
and writes it to <out>/modes.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from codegan.config import load_config  # noqa: E402
from codegan.pretraining.maml import MetaPretrainer  # noqa: E402
from codegan.pretraining.simclr import SimCLRPretrainer  # noqa: E402
from codegan.training.loop import Trainer  # noqa: E402

FOLDER = os.path.join(REPO, "Fashion-MNIST")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=300, help="training iterations of every mode")
    ap.add_argument("--pretrain_iters", type=int, default=300, help="SimCLR iterations")
    ap.add_argument("--pretrain_batch_size", type=int, default=256)
    ap.add_argument("--meta_iters", type=int, default=100, help="MAML outer steps")
    ap.add_argument("--chain_frac", type=float, default=1 / 3,
                    help="fraction of --iters before E_c trains, in modes that load E_c")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--kmeans_runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(REPO, "runs", "bench-modes"),
                    help="where runs and pre-trained weights go (a new sub-folder per call)")
    ap.add_argument("--data_root", default=None)
    ap.add_argument("--gd_start", choices=("unsup", "scratch"), default="unsup",
                    help="G and D of the pre-trained / meta modes: from the unsupervised run's "
                         "last checkpoint (official recipe) or from random weights")
    ap.add_argument("--simclr_path", default=None,
                    help="reuse these SimCLR weights (from an earlier call) instead of pre-training")
    ap.add_argument("--maml_path", default=None,
                    help="reuse these MAML weights (from an earlier call) instead of pre-training")
    ap.add_argument("--modes", default="all",
                    help="comma list of: unsup,pre,few,fewpre,fewmeta (default all)")
    args = ap.parse_args()

    out = os.path.join(os.path.abspath(args.out), time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out)
    base = {"device": args.device, "kmeans_runs": args.kmeans_runs, "progress": False,
            "out": os.path.join(out, "runs"), "max_iters": args.iters,
            "data_root": args.data_root, "keep_checkpoints": 1}
    simclr = os.path.abspath(args.simclr_path or os.path.join(out, "E_c_simclr.pt"))
    maml = os.path.abspath(args.maml_path or os.path.join(out, "E_c_maml.pt"))
    chain = max(1, int(round(args.iters * args.chain_frac)))
    want = set(args.modes.split(",")) if args.modes != "all" else \
        {"unsup", "pre", "few", "fewpre", "fewmeta"}
    rows = []

    def cfg(**over):
        return load_config(os.path.join(FOLDER, "param.yml"), {**base, **over})

    def timed(label, fn):
        t0 = time.perf_counter()
        res = fn()
        rows.append({"mode": label, "seconds": round(time.perf_counter() - t0, 1), **res})
        r = rows[-1]
        print(f"== {label}: ACC {r['acc']:.4f} (purity {r['acc_purity']:.4f}) NMI {r['nmi']:.4f} "
              f"ARI {r['ari']:.4f} [{r['seconds']:.0f} s]", flush=True)
        return res

    def train(**over):
        t = Trainer(cfg(**over), FOLDER)
        run_dir = t.run()
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            last = json.loads(f.read().splitlines()[-1])
        last["run_dir"] = run_dir
        return last

    def reused(label, path):
        import torch

        blob = torch.load(path, map_location="cpu", weights_only=True)
        rows.append({"mode": f"{label} (reused {blob['iterations']} it: {path})",
                     "seconds": float("nan"), **blob["scores"]})

    if want & {"pre", "fewpre"} and args.simclr_path:
        reused("SimCLR pre-training alone", simclr)
    elif want & {"pre", "fewpre"}:
        timed(f"SimCLR pre-training alone ({args.pretrain_iters} it, batch "
              f"{args.pretrain_batch_size})",
              lambda: SimCLRPretrainer(cfg(pretrain_path=simclr,
                                           pretrain_iters=args.pretrain_iters,
                                           pretrain_batch_size=args.pretrain_batch_size),
                                       FOLDER).run())
    if "fewmeta" in want and args.maml_path:
        reused("MAML pre-training alone", maml)
    elif "fewmeta" in want:
        timed(f"MAML pre-training alone ({args.meta_iters} outer steps)",
              lambda: MetaPretrainer(cfg(meta_path=maml, meta_iters=args.meta_iters),
                                     FOLDER).run())
    gd = {"load_path": "scratch"}
    if "unsup" in want or (want & {"pre", "fewpre", "fewmeta"} and args.gd_start == "unsup"):
        unsup = timed("unsupervised", lambda: train(mode="bench-unsup"))
        if args.gd_start == "unsup":
            ck = os.path.join(unsup["run_dir"], "checkpoints")
            gd["load_path"] = os.path.join(ck, sorted(os.listdir(ck))[-1])
    if "pre" in want:
        timed("pretrained", lambda: train(mode="bench-pre", pretrain=True,
                                          pretrain_path=simclr, chain_iters=chain, **gd))
    if "few" in want:
        timed("100 labels", lambda: train(mode="bench-few", few_labels=True))
    if "fewpre" in want:
        timed("100 labels + pretrained", lambda: train(mode="bench-fewpre", few_labels=True,
                                                       pretrain=True, pretrain_path=simclr,
                                                       chain_iters=chain, **gd))
    if "fewmeta" in want:
        timed("100 labels + meta", lambda: train(mode="bench-fewmeta", few_labels=True,
                                                 meta=True, meta_path=maml, chain_iters=chain,
                                                 **gd))

    print(f"\nFashion-MNIST, E-based k-means on the 10,000 test images "
          f"(mean of {args.kmeans_runs} runs); {args.iters} training iterations per mode, "
          f"no encoder step for {chain} in the modes that load E; G and D of those from "
          f"{args.gd_start}; device {args.device}; budget {args.iters} / 562,200 iterations "
          f"= {args.iters / 562200:.2%} of the official 600 epochs")
    print(f"{'mode':<48}{'ACC':>8}{'purity':>8}{'NMI':>8}{'ARI':>8}{'s':>8}")
    for r in rows:
        print(f"{r['mode']:<48}{r['acc']:>8.4f}{r['acc_purity']:>8.4f}{r['nmi']:>8.4f}"
              f"{r['ari']:>8.4f}{r['seconds']:>8.0f}")
    with open(os.path.join(out, "modes.json"), "w") as f:
        json.dump({"args": vars(args), "chain_iters": chain, "rows": rows}, f, indent=1,
                  default=str)
    print(f"wrote {os.path.join(out, 'modes.json')}")


if __name__ == "__main__":
    main()
