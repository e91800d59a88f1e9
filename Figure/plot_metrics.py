"""Plot a run's ACC / NMI / ARI over iterations; with ``--beside``, a second run's dashed over it.

    python Figure/plot_metrics.py --run=MNIST/runs/00000-mnist-unsupervised --out=curve.png
    python Figure/plot_metrics.py --run=EAGER_RUN --beside=GRAPHS_RUN --labels=eager,graphs \
        --out=curves.png
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
    if "labels" in opts and "beside" not in opts:
        raise UserError("--labels names the two runs of --beside=RUN; give both, or neither")
    labels = str(opts.get("labels", "first,second")).split(",")
    if len(labels) != 2:
        raise UserError(f"--labels={opts['labels']}: give two names, e.g. --labels=eager,graphs")
    beside = read_metrics(str(opts["beside"])) if "beside" in opts else None
    plot_curves(read_metrics(str(opts["run"])), str(opts["out"]),
                str(opts.get("title", os.path.basename(os.path.normpath(str(opts["run"]))))),
                beside=beside, labels=tuple(labels) if beside else ("", ""))
    print(f"wrote {opts['out']}")


if __name__ == "__main__":
    main(sys.argv[1:])
