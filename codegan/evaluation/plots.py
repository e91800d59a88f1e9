"""Figures made from a run folder: the metric curve from ``metrics.jsonl``; t-SNE panels of
features (the comparison report's, Mathieu16's codes)."""

from __future__ import annotations

import json
import os

import numpy as np

from ..errors import UserError, write_file

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


def plot_curves(records: list, out: str, title: str = "", beside: list | None = None,
                labels: tuple = ("", "")) -> None:
    """Plot each clustering metric (mean, with a +-std band over k-means runs) over iterations.
    ``beside``: a second run's records, drawn dashed in the same colours over the same axes
    (``labels``: the two runs' names in the legend, e.g. ("eager", "CUDA graphs"))."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    runs = [(records, "-", labels[0])] + ([(beside, "--", labels[1])] if beside else [])
    for i, (key, label) in enumerate(CURVES):
        for recs, style, name in runs:
            if key not in recs[0]:
                continue
            its = [r["iteration"] for r in recs]
            m = [r[key] for r in recs]
            s = [r.get(key + "_std", 0.0) for r in recs]
            ax.plot(its, m, style, color=f"C{i}", label=f"{label} ({name})" if name else label)
            ax.fill_between(its, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)],
                            color=f"C{i}", alpha=0.2)
    ax.set_xlabel("iteration")
    ax.set_ylabel("score on the 10,000 test images")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    if os.path.exists(out):
        raise UserError(f"{out} exists already; choose another --out.")
    write_file(out, fig.savefig)
    plt.close(fig)


def tsne_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """scikit-learn's t-SNE of (n, d) features to (n, 2) (PCA start, perplexity 30 or less for
    small n, as t-SNE needs perplexity < n)."""
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(features) - 1) / 3)
    return TSNE(n_components=2, init="pca", perplexity=perplexity,
                random_state=seed).fit_transform(features)


def plot_tsne(panels: dict, out: str, title: str = "", color_label: str = "class code c") -> None:
    """One panel per method: 2-D points coloured by the class code that generated them (or
    what ``color_label`` names). ``panels``: ``{method: (points (n, 2), codes (n,))}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if os.path.exists(out):  # a figure is never replaced
        raise UserError(f"{out} exists already; choose another name or folder.")
    k = len(panels)
    fig, axes = plt.subplots(1, k, figsize=(3.6 * k + 1, 3.8), dpi=120, squeeze=False,
                             layout="constrained")
    for ax, (method, (pts, codes)) in zip(axes[0], panels.items()):
        sc = ax.scatter(pts[:, 0], pts[:, 1], c=codes, cmap="tab10" if codes.max() < 10
                        else "tab20", s=4)
        ax.set_title(method)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(sc, ax=axes[0].tolist(), label=color_label, shrink=0.8)  # codes: 0..K-1
    fig.suptitle(title)
    write_file(out, fig.savefig)
    plt.close(fig)
