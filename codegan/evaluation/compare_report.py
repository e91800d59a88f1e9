"""The report of a comparison of methods (``python -m codegan.compare``): the table of final
metrics over seeds beside the paper's numbers, metric curves, sample grids and the t-SNE of
encoder features of fakes (the paper's Figure 4).

Everything here reads what the runs left behind (metrics records, checkpoints); the training and
the run folders are ``codegan.compare``'s business.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from .. import latent
from ..errors import UserError, write_file
from ..methods import METHODS
from .disentangle import number_text
from .plots import plot_tsne, tsne_2d  # noqa: F401  (the report's t-SNE; kept here by name)
from .sampling import load_generator, load_nets
from .traversal import save_method_samples

# The CoDeGAN paper's main table (arXiv 2103.03636): ACC / NMI / ARI of the E-based protocol,
# by dataset (the ``dataset`` setting) and method, as each method declares its row
# (``Method.paper_scores``). The paper's ACC is purity (each k-means cluster takes its majority
# class; the official code's "ACC"), so it stands beside our ``acc_purity``. ``rerun``: the
# CoDeGAN authors re-ran the method themselves (starred in the paper's table).
PUBLISHED: dict = {}
for _name, _method in METHODS.items():
    for _dataset, _row in _method.paper_scores.items():
        PUBLISHED.setdefault(_dataset, {})[_name] = dict(_row)

# keys of a metrics record that are not final scores of the method
NOT_SCORES = {"epoch", "iteration", "seconds", "eval_seconds"}
CURVE_METRICS = (("acc_purity", "ACC (purity, the paper's ACC)"), ("nmi", "NMI"),
                 ("ari", "ARI"), ("acc", "ACC (Hungarian)"))


# -- numbers ------------------------------------------------------------------------------------
def scores_of(record: dict) -> dict:
    """The numeric scores of one metrics record: every int/float entry except the bookkeeping
    (``NOT_SCORES``) and the std over k-means runs (``*_std``), whatever the method adds."""
    return {k: float(v) for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in NOT_SCORES and not k.endswith("_std")}


def mean_std(values) -> tuple:
    """Mean and sample std (ddof=1; 0 for a single value) of a list of numbers."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def aggregate(finals: list) -> dict:
    """Mean and std over seeds of each score of the seeds' final records (list of dicts).

    Returns ``{key: (mean, std, n)}``, ``n`` the number of seeds whose record has the key, keys
    sorted; a key missing from some seeds is averaged over those that have it.
    """
    per_key = {}
    for rec in finals:
        for k, v in scores_of(rec).items():
            per_key.setdefault(k, []).append(v)
    return {k: (*mean_std(v), len(v)) for k, v in sorted(per_key.items())}


def seed_curve(records_by_seed: list, key: str):
    """One metric over iterations, mean and std over seeds at the iterations every seed
    evaluated (the final one at least). ``records_by_seed``: one list of records per seed.

    Returns ``(iterations, mean, std)``, three arrays of the same length (maybe 0).
    """
    per_seed = [{r["iteration"]: r[key] for r in recs if key in r} for recs in records_by_seed]
    common = sorted(set.intersection(*(set(d) for d in per_seed))) if per_seed else []
    vals = np.array([[d[i] for d in per_seed] for i in common], dtype=np.float64)
    if not common:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    std = vals.std(axis=1, ddof=1) if vals.shape[1] > 1 else np.zeros(len(common))
    return np.array(common), vals.mean(axis=1), std


def fmt(mean: float, std: float, n: int) -> str:
    """``0.512`` or ``0.512 ± 0.031``; a mean below 1e-3 (dHSIC) in 3 significant digits."""
    small = 0 < abs(mean) < 1e-3  # the std follows the mean's style, even when it is larger
    f = (lambda v: f"{v:.3g}") if small else (lambda v: number_text(v, 3))
    return f(mean) if n < 2 else f"{f(mean)} ± {f(std)}"


# -- file names ---------------------------------------------------------------------------------
def report_names(out_dir: str, methods: list, metrics=tuple(k for k, _ in CURVE_METRICS)) -> dict:
    """The file of each part of one report, in ``out_dir``. An earlier report is never replaced:
    the names take the first suffix (none, ``-1``, ``-2``, ...) that none of them has yet, so
    the files of one report share it.

    Returns ``{"md": path, "curve": {metric: path}, "grid": {method: path}, "tsne": path}``.
    """
    def names_of(sfx):
        return {"md": f"comparison{sfx}.md",
                "curve": {m: f"curve-{m}{sfx}.png" for m in metrics},
                "grid": {m: f"grid-{m}{sfx}.png" for m in methods},
                "tsne": f"tsne{sfx}.png"}

    def flat(sfx):
        names = names_of(sfx)
        return [names["md"], names["tsne"], *names["curve"].values(), *names["grid"].values()]

    names = names_of(free_suffix(out_dir, flat))
    return {k: ({kk: os.path.join(out_dir, vv) for kk, vv in v.items()}
                if isinstance(v, dict) else os.path.join(out_dir, v)) for k, v in names.items()}


def free_suffix(out_dir: str, files) -> str:
    """The first suffix (``""``, ``"-1"``, ``"-2"``, ...) for which none of ``files(suffix)``
    (file names in ``out_dir``) exists yet: files written together share it, and an earlier
    set is never replaced."""
    n = 0
    while any(os.path.exists(os.path.join(out_dir, f)) for f in files(f"-{n}" if n else "")):
        n += 1
    return f"-{n}" if n else ""


def _refuse_existing(path: str) -> None:
    if os.path.exists(path):  # as plots.plot_curves: a figure is never replaced
        raise UserError(f"{path} exists already; choose another name or folder.")


# -- figures ------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_seed_curves(curves: dict, label: str, out: str, title: str = "") -> None:
    """One metric over iterations, a line per method (mean over seeds) with a +-std band.
    ``curves``: ``{method: (iterations, mean, std)}`` as ``seed_curve`` returns."""
    _refuse_existing(out)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for method, (its, m, s) in curves.items():
        if len(its) == 0:
            continue
        line, = ax.plot(its, m, marker="o" if len(its) < 20 else None, ms=3, label=method)
        ax.fill_between(its, m - s, m + s, alpha=0.2, color=line.get_color())
    ax.set_xlabel("iteration")
    ax.set_ylabel(label)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    write_file(out, fig.savefig)
    plt.close(fig)


def method_grid(checkpoint: str, out: str, device) -> None:
    """A sample grid of a checkpoint's G (its EMA weights when the run kept them): row ``c`` =
    class code ``c``, the same ten noise vectors in every row."""
    _refuse_existing(out)
    nets, cfg, _ = load_nets(checkpoint, device=device)
    G = load_generator(checkpoint, device=device)[0] if METHODS[cfg.method].noise_generator \
        else None
    save_method_samples(nets, G, cfg, out, next(nets.parameters()).device)


def fake_latents(cfg, n_per_class: int, device, seed: int = 0):
    """``n_per_class`` latents for each class code: ``z`` (K * n, zn_dim) from the method's
    prior (``codegan.latent.sample_latent_cfg``: the run's ``z_prior`` and ``z_scale``) and
    ``c`` (K * n,) = 0,...,0, 1,...,1, ... (exactly balanced, so the prior's own draw of the
    codes is replaced). Drawn from a generator seeded with ``seed``, not the global stream."""
    n = n_per_class * cfg.zc_dim
    g = torch.Generator(device=device).manual_seed(seed)
    z = latent.sample_latent_cfg(cfg, n, device, generator=g)[0]
    c = torch.arange(cfg.zc_dim, device=device).repeat_interleave(n_per_class)
    return z, c


@torch.inference_mode()
def fake_features(checkpoint: str, n_per_class: int, device, batch_size: int = 500):
    """Encoder features of generated images: ``n_per_class`` fakes per class code from the
    checkpoint's G (EMA weights when kept), through the method's encoder of real images
    (the ``features`` of ``Method.represent``, what the E-based evaluation reads).

    Returns ``features`` float32 (K * n, d) and ``codes`` int64 (K * n,), NumPy arrays; (None,
    None) for a run without a class code.
    """
    nets, cfg, _ = load_nets(checkpoint, device=device)
    if not cfg.zc_dim:  # no class code (InfoGAN-CR's own dSprites setup): nothing to colour by
        return None, None
    represent = METHODS[cfg.method].represent
    if not METHODS[cfg.method].noise_generator:
        return real_features(nets, cfg, n_per_class, batch_size)
    G, cfg = load_generator(checkpoint, device=device)
    dev = next(G.parameters()).device
    z, c = fake_latents(cfg, n_per_class, dev)
    feats = [represent(nets, cfg, G(z[i:i + batch_size], c[i:i + batch_size]),
                       ("features",))["features"].float().cpu()
             for i in range(0, len(c), batch_size)]
    return torch.cat(feats).numpy(), c.cpu().numpy()


def real_features(nets, cfg, n_per_class: int, batch_size: int = 500):
    """For a method without a noise-to-image G (Mathieu16): the encoder features of the first
    ``n_per_class`` real test images of each class, and their labels (as ``fake_features``)."""
    from ..data.datasets import DATASETS, load_images, to_float

    x, y = load_images(cfg.dataset, cfg.data_root, "test")
    pick = torch.cat([torch.nonzero(y == k).flatten()[:n_per_class] for k in range(cfg.zc_dim)])
    dev = next(nets.parameters()).device
    rng = DATASETS[cfg.dataset].image_range
    represent = METHODS[cfg.method].represent
    feats = [represent(nets, cfg, to_float(x[pick[i:i + batch_size]].to(dev), rng),
                       ("features",))["features"].float().cpu()
             for i in range(0, len(pick), batch_size)]
    return torch.cat(feats).numpy(), y[pick].numpy()


# -- the markdown -------------------------------------------------------------------------------
def paper_table(dataset: str, methods: list, stats: dict) -> list:
    """Markdown lines: per method our purity / NMI / ARI (official protocol: the
    lowest-inertia k-means run, ``*_best_of_runs``) beside the paper's ACC / NMI / ARI."""
    pub = PUBLISHED.get(dataset, {})
    lines = ["| method | seeds | purity, ours | ACC (= purity), paper | NMI, ours | NMI, paper "
             "| ARI, ours | ARI, paper |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m in methods:
        row = [m, str(max((n for _, _, n in stats[m].values()), default=0))]
        p = pub.get(m)
        for ours, theirs in (("acc_purity", "acc"), ("nmi", "nmi"), ("ari", "ari")):
            s = stats[m].get(ours + "_best_of_runs")
            row.append(fmt(*s) if s else "–")
            row.append(f"{p[theirs]:.2f}{'*' if p['rerun'] else ''}" if p else "–")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def all_metrics_table(methods: list, stats: dict) -> list:
    """Markdown lines: every score any method's final records hold, a column per method."""
    keys = sorted({k for m in methods for k in stats[m]})
    lines = ["| metric | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(fmt(*stats[m][k]) if k in stats[m] else "–"
                                             for m in methods) + " |")
    return lines


def disentanglement_table(rows: dict, published: dict) -> list:
    """Markdown lines: a metric per row (``published``' order: InfoGAN-CR's Table 1), our
    ``rows`` (``{label: {metric: (mean, std, n)}}``) as columns, then the paper's two columns
    (``published``: ``{metric: (InfoGAN (modified), InfoGAN-CR)}``)."""
    labels = list(rows)
    lines = ["| metric | " + " | ".join(labels) + " | paper: InfoGAN (modified) | paper: "
             "InfoGAN-CR |", "|---|" + "---:|" * (len(labels) + 2)]
    extra = sorted({k for r in rows.values() for k in r} - set(published))  # dhsic, ...
    for k in [*published, *extra]:
        ours = [fmt(*rows[lb][k]) if k in rows[lb] else "–" for lb in labels]
        paper = [f"{v:.2f}" for v in published[k]] if k in published else ["–", "–"]
        lines.append(f"| {k} | " + " | ".join(ours + paper) + " |")
    return lines


def budget_fraction(max_iters: int, max_step: int, iters_per_epoch: int) -> float:
    """``max_iters`` as a fraction (> 0; 1 = all) of a schedule of ``max_step`` epochs of
    ``iters_per_epoch`` iterations."""
    return max_iters / (max_step * iters_per_epoch)


def budget_line(max_iters: int, schedules: dict, codegan: tuple, param_path: str) -> str:
    """The budget as a fraction of the official schedule: CoDeGAN's (``codegan``, param.yml's),
    which every method follows unless its authors published their own for the dataset
    (InfoGAN-CR on dSprites). ``schedules``: ``{method: (max_step epochs, iterations per
    epoch)}``; ``codegan``: the same pair for param.yml."""
    def one(max_step, ipe):
        total = max_step * ipe
        return (f"{100 * budget_fraction(max_iters, max_step, ipe):.3g}% of", f"max_step "
                f"{max_step} epochs x {ipe:,} iterations per epoch = {total:,} iterations")

    distinct = {}
    for m, sched in schedules.items():
        distinct.setdefault(tuple(sched), []).append(m)
    same = f"every method runs the same number of iterations, one real minibatch each"
    if list(distinct) == [tuple(codegan)]:
        pct, what = one(*codegan)
        return (f"{max_iters:,} iterations per run = {pct} the official schedule, CoDeGAN's: "
                f"{what} ({param_path}; {same})")
    parts = []
    for sched, ms in distinct.items():
        pct, what = one(*sched)
        whose = "CoDeGAN's schedule" if sched == tuple(codegan) else \
            f"the schedule {', '.join(ms)}'s authors published for this dataset"
        parts.append(f"{pct} {whose} ({', '.join(ms)}: {what})")
    return (f"{max_iters:,} iterations per run = " + "; ".join(parts) + f" ({param_path} and "
            f"the methods' published values; {same})")


def where_run(cwd: str) -> str:
    """Where the command ran, for the report: relative to the repository when inside it (a
    report names no machine's paths), else as it is."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rel = os.path.relpath(os.path.abspath(cwd), root)
    if rel == ".":
        return "from the repository root"
    return f"in `{rel}`" if not rel.startswith("..") else f"in `{cwd}`"


def markdown(*, title: str, command: str, cwd: str, machine: str, seeds: list, budget: str, dataset: str,
             methods: list, stats: dict, runs: dict, figures: dict, sittings: list,
             sample_seed: int, disentanglement: dict | None = None) -> str:
    """The text of ``comparison.md``. ``stats``: ``{method: aggregate(...)}``; ``runs``:
    ``{method: {seed: "run folders of its history"}}``; ``figures``: ``report_names``' paths;
    ``sittings``: earlier invocations that trained runs here (``{"command", "machine",
    "trained"}`` each); ``disentanglement`` (dSprites): ``{"rows": {label: {metric: (mean, std,
    n)}}, "how": "what was scored"}``."""
    rel = os.path.basename
    out = [f"# {title}", "",
           f"Made by `{command}` ({where_run(cwd)}) on {machine}.", "",
           f"- Seeds: {', '.join(map(str, seeds))} (every method, same seeds).",
           f"- Budget: {budget}.",
           "- Scores: the final evaluation of each run (E-based: k-means on the method's "
           "encoder features of the real test images); mean ± sample std (ddof=1) over seeds.",
           "", "## Against the paper", ""]
    if any("acc_purity_best_of_runs" in stats[m] for m in methods):
        out += ["Ours: the official protocol, the lowest-inertia k-means run (`*_best_of_runs`). "
                "Paper: CoDeGAN's main table (arXiv 2103.03636; its official code), whose "
                "ACC is purity (each cluster takes its majority class), so it stands beside our "
                "purity; * = re-run by the CoDeGAN authors. The paper's numbers come after the "
                "full schedule.", "", *paper_table(dataset, methods, stats), ""]
    else:  # InfoGAN / InfoGAN-CR's own dSprites setup: no class code, no clustering
        out += ["No method here has a class code, so there is no clustering to set beside "
                "CoDeGAN's main table.", ""]
    if disentanglement:
        from .disentangle import PUBLISHED_TABLE1

        out += ["## Disentanglement against InfoGAN-CR's Table 1", "",
                f"Ours: {disentanglement['how']}; mean ± sample std over seeds. Paper: "
                f"InfoGAN-CR's Table 1 (dSprites, 50 runs, the full schedule; Lin et al. "
                f"2020).", "",
                *disentanglement_table(disentanglement["rows"], PUBLISHED_TABLE1), ""]
    out += ["## Every final metric", "",
           "`acc` is the Hungarian (one-to-one) accuracy, `acc_purity` purity; plain keys are "
           "means over the k-means runs of one evaluation, `*_best_of_runs` its lowest-inertia "
           "run; other keys are the method's own.", "",
           *all_metrics_table(methods, stats), "",
           "## Figures", ""]
    curves = [f"![{m}]({rel(p)})" for m, p in figures["curve"].items() if os.path.exists(p)]
    if curves:
        out += ["Each metric over iterations, a line per method: the mean over seeds of each "
                "evaluation's mean over its k-means runs, band ± std over seeds:", "",
                " ".join(curves), ""]
    out.append(f"Samples of seed {sample_seed}'s final G (EMA weights where kept), row c = "
               f"class code c, the same noise in every row (a run without a class code: a "
               f"traversal, row i varies code i over its range; mathieu16, which has no "
               f"noise-to-image G: its swap grid, row i takes z of one real test image, "
               f"column j s of another):\n")
    out += [f"- {m}: ![{m}]({rel(p)})" for m, p in figures["grid"].items() if os.path.exists(p)]
    if os.path.exists(figures["tsne"]):
        out += ["", f"t-SNE of the encoder features (the encoder the evaluation reads) of "
                    f"generated images, coloured by their class code (the paper's Figure 4), "
                    f"seed {sample_seed}'s final G (mathieu16: s of real test images, coloured "
                    f"by their class):", "", f"![t-SNE]({rel(figures['tsne'])})"]
    out += ["", "## Runs", "", "| method | seed | run folders (oldest first) |", "|---|---:|---|"]
    out += [f"| {m} | {s} | {r} |" for m in methods for s, r in runs[m].items()]
    if sittings:
        out += ["", "Invocations that trained these runs:", ""]
        out += [f"- `{s['command']}` on {s['machine']}: {', '.join(s['trained'])}"
                for s in sittings]
    return "\n".join(out) + "\n"
