"""Figures made from a run folder: the metric curve from ``metrics.jsonl``."""

from __future__ import annotations

import json
import os

from ..errors import UserError

CURVES = (("acc", "ACC (Hungarian)"), ("acc_purity", "ACC (purity, official)"),
          ("nmi", "NMI"), ("ari", "ARI"))


def read_metrics(path: str) -> list:
    """Records of a ``metrics.jsonl`` (a run folder or the file itself), in iteration order."""
    if os.path.isdir(path):
        path = os.path.join(path, "metrics.jsonl")
    if not os.path.isfile(path):
        raise UserError(f"{path} not found: give a run folder (it holds metrics.jsonl).")
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return sorted(recs, key=lambda r: r["iteration"])


def plot_curves(records: list, out: str, title: str = "") -> None:
    """Plot each clustering metric (mean, with a +-std band over k-means runs) over iterations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = [r["iteration"] for r in records]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for key, label in CURVES:
        if key not in records[0]:
            continue
        m = [r[key] for r in records]
        s = [r.get(key + "_std", 0.0) for r in records]
        ax.plot(its, m, label=label)
        ax.fill_between(its, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)],
                        alpha=0.2)
    ax.set_xlabel("iteration")
    ax.set_ylabel("score on the 10,000 test images")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    if os.path.exists(out):
        raise UserError(f"{out} exists already; choose another --out.")
    fig.savefig(out)
    plt.close(fig)
