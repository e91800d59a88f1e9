"""Plot a run's ACC / NMI / ARI over iterations.

    python Figure/plot_metrics.py --run=MNIST/runs/00000-mnist-unsupervised --out=curve.png
"""
import os
import sys

from codegan.config import parse_overrides
from codegan.errors import UserError, cli_guard
from codegan.evaluation.plots import plot_curves, read_metrics


@cli_guard
def main(argv):
    opts = parse_overrides(argv)
    if "run" not in opts or "out" not in opts:
        raise UserError("give --run=RUN_FOLDER (or its metrics.jsonl) and --out=FILE.png")
    plot_curves(read_metrics(str(opts["run"])), str(opts["out"]),
                str(opts.get("title", os.path.basename(os.path.normpath(str(opts["run"]))))))
    print(f"wrote {opts['out']}")


if __name__ == "__main__":
    main(sys.argv[1:])
