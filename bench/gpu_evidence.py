"""The Python half of ``bench/gpu_evidence.sh`` (one lent GPU's evidence in small files).

    python bench/gpu_evidence.py train --folder=Fashion-MNIST [--eval_at_start] [--losses] -- --key=value ...
    python bench/gpu_evidence.py collect --runs=DIR --dest=OUT/longrun [--grid_every=10000] [--driver_log=FILE]
    python bench/gpu_evidence.py precision --float32=DIR --bf16=DIR --dest=FILE
    python bench/gpu_evidence.py budget --folder=Fashion-MNIST --iters=N|--seconds=S [--method=codegan]
    python bench/gpu_evidence.py fit --out=OUT [--max_files=8]

``train`` is ``train.py`` (the same ``Trainer`` built from the folder's param.yml and the
``--key=value`` settings, SIGTERM stops it cleanly with exit status 143) with two additions made
here, outside the package: ``--eval_at_start`` runs the loop's own evaluation once before the
first iteration (the loop evaluates only after iterations; its record is iteration 0, the
untrained networks), and ``--losses`` writes every 10th iteration's losses (the iterations at
which the loop already reads them) to ``losses.jsonl`` in the run folder.

``collect`` copies a run's small files (never checkpoints) into ``--dest``: metrics.jsonl,
config.yml, log.txt (the run's, then what else the driver printed), losses.jsonl where written, and
grids.png, one image of the sample grids at iteration 0, every ``--grid_every`` iterations and
the last. It prints the budget as a fraction of the official schedule and the last scores beside
the paper's. ``fit`` keeps at most ``--max_files`` files under ``--out`` (the device machine
brings back 8): the rest go, in priority order, into one ``rest.tar``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# training images per dataset: the official schedule is max_step x (n_train // d_batch_size)
N_TRAIN = {"mnist": 60_000, "fashion_mnist": 60_000, "cifar10": 50_000}
MAX_FILE_BYTES = 16 * 2 ** 20  # the device machine brings back files of at most 16 MiB


# -- train ---------------------------------------------------------------------------------------
def cmd_train(args, rest: list) -> int:
    import signal

    # a SIGTERM before the loop installs its handler (the imports and the data take seconds;
    # the wall-clock budget may end during them) is kept, and stops the run after its first
    # iteration, evaluated and checkpointed as the loop's own handler would
    early = []

    def sigterm_before_the_loop(signum, frame):
        early.append(signum)
        print("SIGTERM before the loop started: it stops after its first iteration",
              file=sys.stderr)

    signal.signal(signal.SIGTERM, sigterm_before_the_loop)
    from codegan.config import load_config, parse_overrides
    from codegan.errors import UserError
    from codegan.training.loop import Trainer
    from codegan.training.train import EXIT_PREEMPTED, config_path

    dataset_dir = os.path.join(REPO, args.folder)
    try:
        overrides = parse_overrides(rest)
        tr = Trainer(load_config(config_path(dataset_dir, overrides), overrides), dataset_dir)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    step = tr.train_iteration
    state = {"evaluated": not args.eval_at_start, "losses": None}

    def iteration():
        if early and not tr.stop_requested:
            tr.stop_requested, tr.stopped_by = True, "SIGTERM"
        if not state["evaluated"]:  # the run folder is open by now: run() calls this
            state["evaluated"] = True
            if tr.iteration == 0:
                tr.log("evaluation at iteration 0 (the untrained networks; bench/gpu_evidence.py)")
                tr.evaluate_and_log()
        losses = step()
        if args.losses and tr.iteration % 10 == 0 and tr.run_dir:
            if state["losses"] is None:
                state["losses"] = open(os.path.join(tr.run_dir, "losses.jsonl"), "a")
            vals = {k: round(float(v), 6) for k, v in losses.items()}
            state["losses"].write(json.dumps({"iteration": tr.iteration, **vals}) + "\n")
        return losses

    tr.train_iteration = iteration
    try:
        run_dir = tr.run()
    finally:
        if state["losses"] is not None:
            state["losses"].close()
    print(f"run folder: {run_dir}")
    if tr.stopped_by == "SIGTERM":
        print(f"stopped by SIGTERM at iteration {tr.iteration} (the wall-clock budget), after its "
              f"final evaluation and checkpoint", file=sys.stderr)
        return EXIT_PREEMPTED
    return 0


# -- budget and scores ---------------------------------------------------------------------------
def official_schedule(folder: str, method: str) -> tuple:
    """(max_step, iterations per epoch) of ``method``'s official schedule in ``folder``: its
    param.yml with the method's published values, as the comparison reports it."""
    path = os.path.join(REPO, folder, "param.yml")
    if method == "codegan":  # param.yml itself (load_config imports the methods, and torch)
        import yaml

        with open(path) as f:
            cfg = yaml.safe_load(f)
        return cfg["max_step"], N_TRAIN[cfg["dataset"]] // cfg["d_batch_size"]
    from codegan.config import load_config

    cfg = load_config(path, {"method": method})
    return cfg.max_step, N_TRAIN[cfg.dataset] // cfg.d_batch_size


def budget_text(folder: str, method: str, iters: int) -> str:
    """``iters`` as a fraction of the official schedule, in the words of the comparison's
    report (``codegan.evaluation.compare_report.budget_line``, whose module takes seconds to
    import: all of the evaluation comes with it)."""
    own, ref = official_schedule(folder, method), official_schedule(folder, "codegan")

    def one(max_step, ipe):
        total = max_step * ipe
        return (f"{100 * iters / total:.3g}% of", f"max_step {max_step} epochs x {ipe:,} "
                f"iterations per epoch = {total:,} iterations")

    pct, what = one(*own)
    whose = "CoDeGAN's" if own == ref else f"the one {method}'s authors published"
    return f"{iters:,} iterations per run = {pct} the official schedule, {whose}: {what} " \
           f"({folder}/param.yml)"


def cmd_budget(args, rest) -> int:
    if args.iters is not None:
        print(f"budget: {budget_text(args.folder, args.method, args.iters)}")
        return 0
    max_step, ipe = official_schedule(args.folder, args.method)
    print(f"budget: {args.seconds:g} s of wall clock; the official schedule is max_step "
          f"{max_step} epochs x {ipe:,} iterations per epoch = {max_step * ipe:,} iterations "
          f"({args.folder}/param.yml, {args.method}); the fraction reached is printed at the end")
    return 0


def paper_scores(dataset: str, method: str) -> dict:
    """The paper's scores (``paper_scores`` of the method's class in codegan/methods/, read from
    the source rather than imported: the import takes seconds)."""
    import ast
    import glob

    for path in sorted(glob.glob(os.path.join(REPO, "codegan", "methods", "*.py"))):
        with open(path) as f:
            tree = ast.parse(f.read())
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            found = {t.id: node.value for node in cls.body if isinstance(node, ast.Assign)
                     for t in node.targets if isinstance(t, ast.Name)}
            name = found.get("name")
            if isinstance(name, ast.Constant) and name.value == method and "paper_scores" in found:
                return ast.literal_eval(found["paper_scores"]).get(dataset, {})
    return {}


def score_line(rec: dict, paper: dict) -> str:
    """'purity 0.612 (paper 0.65), NMI ... at iteration N' (the paper's ACC is purity)."""
    parts = []
    for ours, theirs, name in (("acc_purity", "acc", "purity"), ("nmi", "nmi", "NMI"),
                               ("ari", "ari", "ARI"), ("acc", None, "ACC (Hungarian)")):
        if ours in rec:
            p = f" (paper {paper[theirs]:.2f})" if theirs and theirs in paper else ""
            parts.append(f"{name} {rec[ours]:.3f}{p}")
    return ", ".join(parts)


# -- collect -------------------------------------------------------------------------------------
def newest_run(runs: str) -> str | None:
    """The newest numbered run folder in ``runs`` (as ``codegan.training.runs.list_runs``
    numbers them; that module imports torch), or None."""
    if not os.path.isdir(runs):
        return None
    found = sorted((int(m.group(1)), d) for d in os.listdir(runs)
                   if (m := re.match(r"^(\d{5,})-", d)) and os.path.isdir(os.path.join(runs, d)))
    return os.path.join(runs, found[-1][1]) if found else None


def read_jsonl(path: str) -> list:
    if not os.path.isfile(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


def grid_montage(samples: str, dest: str, every: int) -> list:
    """One PNG of the sample grids at iteration 0, every ``every`` iterations and the last, each
    under its iteration. Returns the iterations drawn ([] when there is no grid)."""
    from PIL import Image, ImageDraw

    grids = {}
    for name in os.listdir(samples) if os.path.isdir(samples) else []:
        m = re.fullmatch(r"grid-(\d+)\.png", name)
        if m:
            grids[int(m.group(1))] = os.path.join(samples, name)
    if not grids:
        return []
    last = max(grids)
    keep = sorted(i for i in grids if i % every == 0 or i == last)
    images = [Image.open(grids[i]).convert("RGB") for i in keep]
    w = max(im.width for im in images)
    h = max(im.height for im in images)
    cols = min(4, len(images))
    rows = -(-len(images) // cols)
    label = 14
    sheet = Image.new("RGB", (cols * (w + 4), rows * (h + label + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for n, (i, im) in enumerate(zip(keep, images)):
        x, y = (n % cols) * (w + 4), (n // cols) * (h + label + 4)
        draw.text((x + 2, y + 1), f"iteration {i:,}", fill="black")
        sheet.paste(im, (x, y + label))
    sheet.save(dest)
    return keep


def cmd_collect(args, rest) -> int:
    """Copy the newest run's small files into ``args.dest`` and print the summary lines; 1 when
    there is no run folder or no evaluation record."""
    os.makedirs(args.dest, exist_ok=True)
    run = newest_run(args.runs)
    lines = []
    if run is None:
        lines.append(f"collect: no run folder in {args.runs}")
    else:
        for name in ("metrics.jsonl", "config.yml", "losses.jsonl"):
            if os.path.isfile(os.path.join(run, name)):
                shutil.copyfile(os.path.join(run, name), os.path.join(args.dest, name))
        drawn = grid_montage(os.path.join(run, "samples"), os.path.join(args.dest, "grids.png"),
                             args.grid_every)
        recs = read_jsonl(os.path.join(run, "metrics.jsonl"))
        cfg = {}
        if os.path.isfile(os.path.join(run, "config.yml")):
            import yaml

            with open(os.path.join(run, "config.yml")) as f:
                cfg = yaml.safe_load(f)
        method = cfg.get("method", "codegan")
        lines.append(f"run folder {os.path.basename(run)} ({method}); grids.png draws the grids at "
                     f"iterations {', '.join(f'{i:,}' for i in drawn) or 'none'}")
        if recs:
            last = recs[-1]
            lines.append(f"budget: {budget_text(args.folder, method, last['iteration'])}; "
                         f"{last.get('seconds', 0):.0f} s of training")
            lines.append(f"evaluations at iterations "
                         f"{', '.join(format(r['iteration'], ',') for r in recs)}")
            if recs[0]["iteration"] == 0:
                lines.append(f"iteration 0 (untrained): "
                             f"{score_line(recs[0], {})}")
            lines.append(f"last, iteration {last['iteration']:,}: "
                         f"{score_line(last, paper_scores(cfg.get('dataset', ''), method))}; "
                         f"the paper's after its full schedule")
        else:
            lines.append("collect: no evaluation record in metrics.jsonl")
    with open(os.path.join(args.dest, "log.txt"), "w") as out:
        seen = set()
        if run is not None and os.path.isfile(os.path.join(run, "log.txt")):
            with open(os.path.join(run, "log.txt")) as f:
                text = f.read()
            out.write(text)
            seen = set(text.splitlines())
        if args.driver_log and os.path.isfile(args.driver_log):
            # what the driver and the training process printed besides the run's log lines
            with open(args.driver_log, errors="replace") as f:
                other = [ln for ln in f.read().splitlines() if ln.strip() and ln not in seen]
            out.write("\n--- the driver's other output (bench/gpu_evidence.sh) ---\n")
            out.write("\n".join(other)[-200_000:] + "\n")  # a bounded tail: the log stays small
        out.write("\n--- summary ---\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if run is not None and read_jsonl(os.path.join(run, "metrics.jsonl")) else 1


# -- precision -----------------------------------------------------------------------------------
def run_summary(runs: str) -> dict:
    """A run's precision, last record, iterations, seconds and mean losses over its last
    quarter of recorded iterations."""
    run = newest_run(runs)
    if run is None:
        return {"error": f"no run folder in {runs}"}
    recs = read_jsonl(os.path.join(run, "metrics.jsonl"))
    losses = read_jsonl(os.path.join(run, "losses.jsonl"))
    import yaml

    with open(os.path.join(run, "config.yml")) as f:
        cfg = yaml.safe_load(f)
    tail = losses[-max(1, len(losses) // 4):] if losses else []
    keys = [k for k in (tail[0] if tail else {}) if k != "iteration"]
    mean = {k: sum(r[k] for r in tail) / len(tail) for k in keys}
    return {"run": os.path.basename(run), "precision": cfg.get("precision"),
            "cuda_graphs": cfg.get("cuda_graphs"), "last": recs[-1] if recs else {},
            "losses": mean, "loss_iters": (tail[0]["iteration"], tail[-1]["iteration"])
            if tail else None, "dataset": cfg.get("dataset"), "method": cfg.get("method")}


def cmd_precision(args, rest) -> int:
    a, b = run_summary(args.float32), run_summary(args.bf16)
    lines = ["float32 against bf16: two runs of the same settings, seed and iterations"]
    for s in (a, b):
        if "error" in s:
            lines.append(s["error"])
    if "error" not in a and "error" not in b:
        lines.append(f"runs: {a['run']} ({a['precision']}), {b['run']} ({b['precision']}); "
                     f"cuda_graphs {a['cuda_graphs']} / {b['cuda_graphs']}")
        rows = [("iteration", "iteration", "{:,}"), ("seconds", "seconds", "{:.1f}"),
                ("purity", "acc_purity", "{:.4f}"), ("NMI", "nmi", "{:.4f}"),
                ("ARI", "ari", "{:.4f}"), ("ACC (Hungarian)", "acc", "{:.4f}")]
        lines.append(f"| | {a['precision']} | {b['precision']} |")
        lines.append("|---|---:|---:|")
        for name, key, fmt in rows:
            va, vb = a["last"].get(key), b["last"].get(key)
            lines.append(f"| {name} | {fmt.format(va) if va is not None else '-'} | "
                         f"{fmt.format(vb) if vb is not None else '-'} |")
        if a["loss_iters"]:
            lines.append(f"mean losses over the last quarter of the recorded iterations "
                         f"({a['loss_iters'][0]:,}-{a['loss_iters'][1]:,}, every 10th):")
            for k in a["losses"]:
                lines.append(f"| {k} | {a['losses'][k]:.4f} | "
                             f"{b['losses'].get(k, float('nan')):.4f} |")
    text = "\n".join(lines) + "\n"
    with open(args.dest, "w") as f:
        f.write(text)
    print(text, end="")
    return 0 if "error" not in a and "error" not in b else 1


# -- fit -----------------------------------------------------------------------------------------
PRIORITY = ("exit.txt", "metrics.jsonl", "grids.png", "log.txt", "precision.txt", "bisect.txt",
            "config.yml", "losses.jsonl")


def cmd_fit(args, rest) -> int:
    """At most ``max_files`` files under ``out``: the lowest in priority (by name, then by part
    in the order the parts ran) go into ``out/rest.tar``."""
    files = []
    for root, _, names in os.walk(args.out):
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), args.out))
    parts = args.parts.split() if args.parts else []

    def rank(rel):
        part = rel.split(os.sep)[0]
        name = os.path.basename(rel)
        return (PRIORITY.index(name) if name in PRIORITY else len(PRIORITY),
                parts.index(part) if part in parts else len(parts), rel)

    files.sort(key=rank)
    big = [f for f in files if os.path.getsize(os.path.join(args.out, f)) > MAX_FILE_BYTES]
    for f in big:  # never expected: then say so rather than lose the whole transfer
        print(f"fit: {f} is over 16 MiB and would not come back; removed")
        os.remove(os.path.join(args.out, f))
        files.remove(f)
    if len(files) <= args.max_files:
        return 0
    keep, pack = files[:args.max_files - 1], files[args.max_files - 1:]
    with tarfile.open(os.path.join(args.out, "rest.tar"), "w") as tar:
        for f in pack:
            tar.add(os.path.join(args.out, f), arcname=f)
    for f in pack:
        os.remove(os.path.join(args.out, f))
    print(f"fit: {len(pack)} files packed into rest.tar ({', '.join(pack)}); "
          f"{len(keep) + 1} files come back")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--folder", required=True)
    t.add_argument("--eval_at_start", action="store_true")
    t.add_argument("--losses", action="store_true")
    c = sub.add_parser("collect")
    c.add_argument("--runs", required=True, help="the runs' out folder")
    c.add_argument("--dest", required=True)
    c.add_argument("--folder", required=True, help="the dataset folder (its param.yml)")
    c.add_argument("--grid_every", type=int, default=10_000)
    c.add_argument("--driver_log", default=None)
    r = sub.add_parser("precision")
    r.add_argument("--float32", required=True)
    r.add_argument("--bf16", required=True)
    r.add_argument("--dest", required=True)
    b = sub.add_parser("budget")
    b.add_argument("--folder", required=True)
    b.add_argument("--iters", type=int, default=None, help="iterations of the run")
    b.add_argument("--seconds", type=float, default=None, help="or its wall-clock budget")
    b.add_argument("--method", default="codegan")
    f = sub.add_parser("fit")
    f.add_argument("--out", required=True)
    f.add_argument("--max_files", type=int, default=8)
    f.add_argument("--parts", default="")
    args = p.parse_args(argv)
    return {"train": cmd_train, "collect": cmd_collect, "precision": cmd_precision,
            "budget": cmd_budget, "fit": cmd_fit}[args.cmd](args, rest)


if __name__ == "__main__":
    sys.exit(main())
