"""Compare methods in one dataset folder: train every method x seed, then one report.

    python -m codegan.compare --folder=Fashion-MNIST --methods=codegan,infogan,clustergan,infogan-cr
        --seeds=0,1,2 --max_iters=2000 [--out=DIR] [--tsne_per_class=100] [--jobs=N]
        [--final_metrics=protocol|train] [--key=value ...]

On dSprites the report also has InfoGAN-CR's metric table: ``--final_metrics=protocol`` (the
default) scores each run's final checkpoint (and InfoGAN-CR's pre-switch "InfoGAN (modified)"
one) with every metric at InfoGAN-CR's protocol sizes, once, kept beside the checkpoint;
``--final_metrics=train`` reads the runs' last ``train_metrics`` instead (small sizes, no cost).

``--key=value`` pairs other than these go to ``train.py`` unchanged (``--data_root``,
``--test_iters``, ``--device``, any key of ``param.yml``). Each (method, seed) trains in
``<out>/<method>/seed<k>/`` (default ``<out>``: ``<folder>/compare``), in the trainer's numbered
run folders. The command is resumable: a run that reached ``max_iters`` is reused, one that
stopped early (Ctrl-C, a crash) continues from its newest checkpoint in a new run folder, and a
larger ``--max_iters`` continues every run. ``<out>/compare.json`` records the settings; other
settings for the same folder stop with one message naming the differences. The report
(``comparison.md`` and figures, ``codegan.evaluation.compare_report``) never replaces an earlier
one: a later report takes the suffix ``-1``, ``-2``, ...
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys

from .config import (BASE, RETIRED, keys_of_roles, load_config, parse_overrides, read_yaml,
                     schema_for, stored)
from .data.datasets import count_images
from .device import pick_device
from .errors import UserError, cli_guard, write_text
from .evaluation import compare_report as rep
from .evaluation.plots import read_metrics
from .folders import FOLDERS, repo_dataset_dir
from .methods import METHODS
from .training.cli import RESUME_KEYS
from .training.runs import (END_FILE, checkpoint_iteration, list_checkpoints, resume_chain,
                             run_end)
from .training.seeds import preempted, train_runs
from .training.train import EXIT_PREEMPTED, RunAborted, RunPreempted

OWN_KEYS = ("folder", "methods", "seeds", "max_iters", "out", "tsne_per_class", "jobs",
            "final_metrics")
FINAL_METRICS = ("protocol", "train")  # dSprites: how the report's disentanglement is scored
# where a run computes and when it writes checkpoints, not what it computes (the keys' declared
# roles): these may differ between sittings of one comparison; ``out`` is the command's own
FREE_KEYS = keys_of_roles("place", "files") - {"out"}
# what compare.json does not hold of a method's settings: those and what differs per run
NOT_COMPARED = FREE_KEYS | {"seed", "max_iters", "out", "resume"}
# set per run by the command itself
REFUSED = {"method": "use --methods=a,b", "seed": "use --seeds=0,1,2",
           "resume": "the command resumes by itself", "config": "use the folder's param.yml"}
MANIFEST = "compare.json"


class Request:
    """The parsed command line. ``passthrough``: the ``--key=value`` strings for train.py as
    given; ``overrides``: the same, parsed (YAML-typed)."""

    def __init__(self, argv: list):
        own, self.passthrough = {}, []
        for arg in argv:
            if not arg.startswith("--") or "=" not in arg:
                raise UserError(f"cannot read argument {arg!r}: write --key=value, e.g. "
                                f"--methods=codegan,infogan --seeds=0,1,2 --max_iters=2000.")
            key = arg[2:].split("=", 1)[0].replace("-", "_")
            if key in OWN_KEYS:
                own[key] = arg.split("=", 1)[1]
            elif key in REFUSED:
                raise UserError(f"--{key} is set per run by the comparison: {REFUSED[key]}.")
            else:
                self.passthrough.append(arg)
        self.overrides = parse_overrides(self.passthrough)
        for key in ("folder", "methods", "seeds", "max_iters"):
            if not own.get(key):
                raise UserError(f"--{key} is missing; e.g. python -m codegan.compare "
                                f"--folder=Fashion-MNIST --methods=codegan,infogan "
                                f"--seeds=0,1,2 --max_iters=2000.")
        self.folder = resolve_folder(own["folder"])
        self.methods = _names(own["methods"])
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise UserError(f"unknown method{'s' * (len(unknown) > 1)} {', '.join(unknown)} in "
                            f"--methods; choose from {', '.join(METHODS)}.")
        try:
            self.seeds = [int(s) for s in _names(own["seeds"])]
            self.max_iters = int(own["max_iters"])
            self.tsne_per_class = int(own.get("tsne_per_class", 100))
            self.jobs = int(own.get("jobs", 1))
        except ValueError:
            raise UserError("--seeds must be whole numbers (--seeds=0,1,2), --max_iters, "
                            "--tsne_per_class and --jobs a whole number.") from None
        if min(self.seeds) < 0 or self.max_iters <= 0 or self.tsne_per_class < 0 or \
                self.jobs < 1:
            raise UserError("--seeds must be >= 0, --max_iters > 0, --tsne_per_class >= 0, "
                            "--jobs >= 1.")
        self.final_metrics = own.get("final_metrics")
        if self.final_metrics not in (None, *FINAL_METRICS):
            raise UserError(f"--final_metrics={self.final_metrics}: choose protocol (every "
                            f"metric at InfoGAN-CR's sizes, after training) or train (the runs' "
                            f"last train_metrics).")
        out = own.get("out") or os.path.join(self.folder, "compare")
        self.out = os.path.abspath(out)
        self.command = "python -m codegan.compare " + shlex.join(argv)
        self.cwd = os.getcwd()  # relative paths in the command are relative to it
        self.device = str(self.overrides.get("device", "auto"))

    def seed_dir(self, method: str, seed: int) -> str:
        return os.path.join(self.out, method, f"seed{seed}")


def _names(text: str) -> list:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UserError(f"{text!r} names nothing; give a comma-separated list, e.g. 0,1,2.")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UserError(f"{', '.join(dup)} listed twice; name each method and seed once.")
    return names


def resolve_folder(name: str) -> str:
    """A dataset folder: a path (holding param.yml), or the name of one in this repository."""
    for path in (name, repo_dataset_dir(os.path.basename(os.path.normpath(name)))):
        if os.path.isfile(os.path.join(path, "param.yml")):
            return os.path.abspath(path)
    raise UserError(f"--folder={name}: no param.yml there; give a dataset folder, one of "
                    f"{', '.join(FOLDERS.values())}.")


# -- settings -----------------------------------------------------------------------------------
def settings_of(req: Request) -> dict:
    """Every setting each method's runs compute with (its resolved config, checked now, before
    anything trains), less those that differ per run or may change between sittings."""
    out = {}
    for m in req.methods:
        cfg = load_config(os.path.join(req.folder, "param.yml"),
                          {**req.overrides, "method": m, "seed": req.seeds[0],
                           "max_iters": req.max_iters})
        out[m] = {k: v for k, v in cfg.to_dict().items() if k not in NOT_COMPARED}
    return json.loads(json.dumps(out))  # as it reads back from compare.json


def settings_differences(old: dict, new: dict) -> list:
    """``["beta_1 is 50, was 100 (codegan, infogan)", ...]`` for the methods in both. A setting
    the code gained after the comparison started counts as unchanged at its default."""
    diffs = {}
    for m in (m for m in new if m in old):
        schema = schema_for(m)
        for k in sorted(set(old[m]) | set(new[m])):
            if k in RETIRED or k not in schema or k in NOT_COMPARED:  # a setting the code no
                continue  # longer has, one the method does not read (CoDeGAN's, once stored by
                # every method), or one that may differ (stored before its role said so)
            if k not in old[m] and k in schema and \
                    json.loads(json.dumps(schema[k].default)) == new[m].get(k):
                continue  # a setting added to the code since, at its default (the old behaviour)
            if old[m].get(k) != new[m].get(k):
                diffs.setdefault((k, repr(new[m].get(k)), repr(old[m].get(k))), []).append(m)
    return [f"{k} is {n}, was {o} ({', '.join(ms)})" for (k, n, o), ms in diffs.items()]


def open_manifest(req: Request, settings: dict) -> dict:
    """Read ``<out>/compare.json`` and check this request against it, or start one. Settings
    may not change (one message lists every difference); methods and seeds may be added;
    ``max_iters`` may grow (every run then continues), never shrink."""
    path = os.path.join(req.out, MANIFEST)
    if not os.path.isfile(path):
        return {"folder": os.path.basename(req.folder), "max_iters": req.max_iters,
                "settings": settings, "sittings": []}
    with open(path) as f:
        man = json.load(f)
    problems = []
    if man["folder"] != os.path.basename(req.folder):
        problems.append(f"folder is {os.path.basename(req.folder)}, was {man['folder']}")
    if req.max_iters < man["max_iters"]:
        problems.append(f"max_iters is {req.max_iters}, was {man['max_iters']} (a finished "
                        f"run cannot be shortened)")
    problems += settings_differences(man["settings"], settings)
    if problems:
        raise UserError(f"{req.out} holds a comparison made with other settings: "
                        f"{'; '.join(problems)}. A comparison folder holds one set of settings "
                        f"(its table would mix them otherwise): rerun with the settings in "
                        f"{path}, or give a new --out.")
    if req.max_iters > man["max_iters"]:
        print(f"max_iters grows from {man['max_iters']} to {req.max_iters}: every run continues")
        man["max_iters"] = req.max_iters
    man["settings"].update(settings)  # methods added now
    return man


def save_manifest(req: Request, man: dict) -> None:
    os.makedirs(req.out, exist_ok=True)
    path = os.path.join(req.out, MANIFEST)
    write_text(path, json.dumps(man, indent=1))  # whole: a killed command leaves the old one


def check_run(run_dir: str, req: Request, settings: dict, method: str, seed: int) -> None:
    """The run about to be reused or continued was made by this method, seed and the settings
    given on the command line (its ``config.yml``), not by something else in the folder."""
    cfg = stored(read_yaml(os.path.join(run_dir, "config.yml")))
    want = {"method": method, "seed": seed, **{k: settings[method][k] for k in req.overrides
                                               if k in settings[method]}}
    bad = [f"{k} is {cfg.get(k)!r}, not {v!r}" for k, v in want.items() if cfg.get(k) != v]
    if bad:
        raise UserError(f"{run_dir} was trained with other settings ({'; '.join(bad)}); move "
                        f"it away or give a new --out.")


# -- training -----------------------------------------------------------------------------------
def machine(device: str) -> str:
    """The CPU (and GPU, where the device is CUDA) this command runs on, in words."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                       "")
    except OSError:
        pass
    text = f"{cpu or platform.processor() or platform.machine()} ({os.cpu_count()} CPUs)"
    dev = pick_device(device)
    if dev.type == "cuda":
        import torch

        text = f"{torch.cuda.get_device_name(dev)} GPU, {text}"
    return text


def newest_checkpoint(seed_dir: str):
    """``(run_dir, checkpoint)`` of the newest run history in ``seed_dir``, or ``(None, None)``."""
    chain = resume_chain(seed_dir)
    if not chain:
        return None, None
    run = chain[-1][0]
    return run, list_checkpoints(run)[-1]


def has_record_at(run_dir: str, iteration: int) -> bool:
    path = os.path.join(run_dir, "metrics.jsonl")
    return os.path.isfile(path) and any(r["iteration"] == iteration for r in read_metrics(path))


def cell_plan(req: Request, settings: dict, method: str, seed: int, head: str = "") -> tuple:
    """What one (method, seed) needs: ``(None, message)`` when its run reached ``max_iters``
    (reused), else ``(train.py command line, message)``: a fresh run, or the newest checkpoint
    continued (``--resume``). ``head`` starts the message. The comparison and the table's
    cluster jobs (``codegan.cluster``, deciding again when a job is requeued) both ask here."""
    where, n = req.seed_dir(method, seed), req.max_iters
    run, ckpt = newest_checkpoint(where)
    head = head or f"{method} seed {seed}:"
    if run is None:
        return ([f"--method={method}", f"--seed={seed}", f"--max_iters={n}", f"--out={where}",
                 *req.passthrough], f"{head} training to iteration {n} in {where}")
    check_run(run, req, settings, method, seed)
    done = checkpoint_iteration(ckpt)
    if done > n:
        raise UserError(f"{ckpt} is at iteration {done}, beyond --max_iters={n}; give "
                        f"a new --out for a shorter budget.")
    if done == n and has_record_at(run, n):
        return None, f"{head} finished at iteration {n} in {run}; reused"
    resume_args = [a for a in req.passthrough
                   if a[2:].split("=", 1)[0].replace("-", "_") in RESUME_KEYS]
    return ([f"--resume={ckpt}", f"--max_iters={n}", f"--out={where}", *resume_args],
            f"{head} continuing from {ckpt} (iteration {done}) to {n}")


def train_all(req: Request, settings: dict, man: dict) -> bool:
    """Train, continue or reuse every (method, seed), printing which of how many; ``--jobs``
    of them at a time (``codegan.training.seeds.train_runs``). Returns False when a run stopped
    early on Ctrl-C (the comparison stops there; rerunning continues it); after SIGTERM, exits
    with ``EXIT_PREEMPTED`` once the manifest is saved (a requeued job reruns the command)."""
    sitting = {"command": req.command, "machine": machine(req.device), "trained": []}
    # seed-major: a comparison cut short still has every method at the first seeds
    jobs = [(m, s) for s in req.seeds for m in req.methods]
    todo = []  # (method, seed, train.py command line, what to print when it starts)
    for i, (m, s) in enumerate(jobs, 1):
        argv, say = cell_plan(req, settings, m, s, f"[{i}/{len(jobs)}] {m} seed {s}:")
        if argv is None:
            print(say)
        else:
            todo.append((m, s, argv, say))
    # one at a time: each run's end is looked at before the next starts (a Ctrl-C stops the
    # comparison there); in parallel: a batch of --jobs runs, then their ends
    batches = ([todo] if todo else []) if req.jobs > 1 else [[t] for t in todo]
    for batch in batches:
        for *_, say in batch:  # what starts now
            print(say, flush=True)
        results = train_runs(req.folder, [argv for _, _, argv, _ in batch], req.jobs)
        by_sigterm = preempted(results)
        results = [r.run_dir if isinstance(r, RunPreempted) else r for r in results]
        started = [(m, s) for (m, s, _, _), r in zip(batch, results) if r is not None]
        if started:
            note_trained(req, man, sitting, started)
        aborted = [r for r in results if isinstance(r, RunAborted)]
        if aborted:  # a second Ctrl-C: resumable_main says how to go on
            raise aborted[0]
        ended = [finished(r, req.max_iters, m, s)
                 for (m, s, _, _), r in zip(batch, results) if r is not None]
        if by_sigterm:
            sys.exit(EXIT_PREEMPTED)
        if not all(ended) or None in results:
            return False
    return True


def note_trained(req: Request, man: dict, invocation: dict, cells: list) -> None:
    """Record in the manifest that this invocation (``{"command", "machine", "trained"}``)
    trained ``cells`` ([(method, seed)]), and save it."""
    if not invocation["trained"]:
        man["sittings"].append(invocation)  # the invocations that trained something, each once
    invocation["trained"] += [f"{m}/seed{s}" for m, s in cells]
    save_manifest(req, man)


def finished(new_run: str, n: int, method: str, seed: int) -> bool:
    """Whether ``new_run`` reached iteration ``n``; False (with a message) when Ctrl-C stopped
    it, an error when its schedule ended first."""
    reached = checkpoint_iteration(list_checkpoints(new_run)[-1])
    if reached >= n:
        return True
    end = run_end(new_run)
    if end is None:  # killed before its final checkpoint (SIGKILL, power loss)
        print(f"stopped: {method} seed {seed} at iteration {reached} of {n}, without ending "
              f"(no {END_FILE}). Run the same command again to continue from its last "
              f"checkpoint.")
        return False
    if not end.get("interrupted"):  # the schedule ended first: settings_of's check missed a case
        raise UserError(f"{new_run} ended at iteration {reached}, before --max_iters="
                        f"{n}; raise --max_step or lower --max_iters.")
    print(f"stopped: {method} seed {seed} at iteration {reached} of {n}. Run the same command "
          f"again to continue where it stopped.")
    return False


def check_schedules(req: Request, settings: dict, n_train: int) -> None:
    """Every method's schedule (max_step epochs) reaches ``max_iters``, so runs end there."""
    for m, cfg in settings.items():
        total = cfg["max_step"] * (n_train // cfg["d_batch_size"])
        if req.max_iters > total:
            raise UserError(f"--max_iters={req.max_iters} is beyond {m}'s whole schedule "
                            f"({cfg['max_step']} epochs = {total} iterations); lower it.")


# -- the report ---------------------------------------------------------------------------------
def history(seed_dir: str) -> tuple:
    """The metrics records of the newest run history in ``seed_dir`` (runs continued by
    ``--resume``), in iteration order, each from the run that computed it last; and the history
    (``resume_chain``). Returns ``(records, chain)``."""
    chain = resume_chain(seed_dir)
    recs = []
    for run, until in chain:
        if os.path.isfile(os.path.join(run, "metrics.jsonl")):
            recs += [r for r in read_metrics(run) if until is None or r["iteration"] <= until]
    return recs, chain


def gather(req: Request) -> tuple:
    """Each (method, seed)'s metrics records over its run history, the final checkpoint and
    the history's run folders: three ``{method: {seed: ...}}`` dicts."""
    records, ckpts, runs = {}, {}, {}
    for m in req.methods:
        records[m], ckpts[m], runs[m] = {}, {}, {}
        for s in req.seeds:
            records[m][s], chain = history(req.seed_dir(m, s))
            ckpts[m][s] = list_checkpoints(chain[-1][0])[-1]
            runs[m][s] = " → ".join(os.path.relpath(r, req.out) for r, _ in chain)
    return records, ckpts, runs


def folder_config(req: Request):
    """The folder's param.yml (its CoDeGAN) with the command's settings of the shared schema
    and CoDeGAN's (the data root, ...); the other methods' own keys were checked by
    ``settings_of``."""
    schema = schema_for(BASE)
    return load_config(os.path.join(req.folder, "param.yml"),
                       {k: v for k, v in req.overrides.items() if k in schema})


def find_checkpoint(seed_dir: str, iteration: int):
    """The checkpoint of ``iteration`` in the newest run history of ``seed_dir``, or None."""
    for run, _ in reversed(resume_chain(seed_dir)):
        for ckpt in list_checkpoints(run):
            if checkpoint_iteration(ckpt) == iteration:
                return ckpt
    return None


def disentanglement(req: Request, records: dict, ckpts: dict, data_root) -> dict:
    """dSprites: InfoGAN-CR's metrics of every run, mean over seeds, a row per method and per
    checkpoint its paper names (InfoGAN-CR's "InfoGAN (modified)", the state before its
    switch). ``--final_metrics=protocol``: every metric at the protocol sizes
    (``disentangle.checkpoint_scores``, kept beside each checkpoint); ``train``: the runs'
    ``train_metrics`` records. Returns ``{"rows": ..., "how": ...}`` for the report."""
    from .checkpoint import load_checkpoint
    from .evaluation.disentangle import checkpoint_scores, headline

    protocol = (req.final_metrics or "protocol") == "protocol"
    per_row = {}  # label -> one flat {metric: value} dict per seed
    for m in req.methods:
        for s in req.seeds:
            final = ckpts[m][s]
            named = METHODS[m].named_checkpoints(load_checkpoint(final, mmap=True))
            targets = [(m, final, checkpoint_iteration(final))]
            targets += [(f"{m}: {name}", find_checkpoint(req.seed_dir(m, s), it), it)
                        for name, it in named.items()]
            for label, ckpt, it in targets:
                if protocol:
                    if ckpt is None:
                        raise UserError(f"{m} seed {s}: the checkpoint of iteration {it} "
                                        f"({label}) is missing from {req.seed_dir(m, s)}; "
                                        f"use --final_metrics=train.")
                    print(f"report: {label} seed {s}: disentanglement metrics of "
                          f"{os.path.basename(ckpt)} at protocol sizes", flush=True)
                    sc = checkpoint_scores(ckpt, req.device, data_root)
                    flat = {k: float(v) for k, v in headline(sc).items()}
                else:
                    flat = next((r for r in records[m][s] if r["iteration"] == it), {})
                per_row.setdefault(label, []).append(flat)
    rows = {label: rep.aggregate(flats) for label, flats in per_row.items()}
    how = ("every metric at InfoGAN-CR's protocol sizes (500 groups of 100 images, 73,728 "
           "labelled), seed 0, of each run's final checkpoint (and, where named, the paper's "
           "checkpoint), represent=zc (python test.py's defaults)" if protocol else
           "the runs' last train_metrics (small sizes: see each run's config.yml, "
           "train_metric_*)")
    return {"rows": rows, "how": how}


def official_schedules(folder: str, methods, n_train: int) -> dict:
    """``{method: (max_step epochs, iterations per epoch)}``: the official schedules of the
    folder (param.yml's and the methods' published values, not the command's settings), and
    under ``None`` param.yml's own (its default method's, CoDeGAN's); ``n_train`` training
    images."""
    official = {m: load_config(os.path.join(folder, "param.yml"), {"method": m})
                for m in methods}
    official[None] = load_config(os.path.join(folder, "param.yml"))  # param.yml's own method
    # at least one iteration an epoch: a dataset smaller than one batch (a test's subset) still
    # trains, on its partial batch
    return {m: (c.max_step, max(1, n_train // c.d_batch_size)) for m, c in official.items()}


def write_report(req: Request, man: dict, param, n_train: int) -> str:
    """``comparison.md`` and its figures in ``<out>``; ``param``: ``folder_config(req)``.
    Returns the markdown's path."""
    records, ckpts, runs = gather(req)
    names = rep.report_names(req.out, req.methods)
    folder = os.path.basename(req.folder)
    for metric, label in rep.CURVE_METRICS:
        curves = {m: rep.seed_curve(list(records[m].values()), metric) for m in req.methods}
        if any(len(c[0]) for c in curves.values()):
            rep.plot_seed_curves(curves, label, names["curve"][metric],
                                 f"{folder}, {len(req.seeds)} seeds")
    sample_seed = 0 if 0 in req.seeds else req.seeds[0]
    panels = {}
    for m in req.methods:
        print(f"report: {m}: sample grid" + (", t-SNE" if req.tsne_per_class else ""), flush=True)
        rep.method_grid(ckpts[m][sample_seed], names["grid"][m], req.device)
        if req.tsne_per_class:
            feats, codes = rep.fake_features(ckpts[m][sample_seed], req.tsne_per_class,
                                             req.device)
            if feats is not None:  # None: a run without a class code
                panels[m] = (rep.tsne_2d(feats), codes)
    if panels:
        rep.plot_tsne(panels, names["tsne"], f"{folder}: encoder features of fakes, by code")
    stats = {m: rep.aggregate([recs[-1] for recs in records[m].values() if recs])
             for m in req.methods}
    dis = disentanglement(req, records, ckpts, param.data_root) \
        if param.dataset == "dsprites" else None
    # the official schedules: each method's with its published values, and param.yml's own
    # (None: its default method's, CoDeGAN's), not the command's
    schedules = official_schedules(req.folder, req.methods, n_train)
    text = rep.markdown(
        title=f"{', '.join(req.methods)} on {folder}", command=req.command, cwd=req.cwd,
        machine=machine(req.device), seeds=req.seeds, dataset=param.dataset,
        budget=rep.budget_line(req.max_iters, {m: schedules[m] for m in req.methods},
                               schedules[None],
                               os.path.join(folder, "param.yml")),
        methods=req.methods, stats=stats, runs=runs, figures=names, sittings=man["sittings"],
        sample_seed=sample_seed, disentanglement=dis)
    write_text(names["md"], text, exclusive=True)
    return names["md"]


def prepare(req: Request) -> tuple:
    """Everything checked before a run trains: the settings (``settings_of``), the manifest
    (opened, checked and saved), the folder's config, the number of training images (a missing
    dataset stops here with ``load_images``' message naming the files), the schedules. Returns
    ``(settings, manifest, folder config, n_train)``."""
    settings = settings_of(req)
    man = open_manifest(req, settings)
    data_cfg = folder_config(req)
    if req.final_metrics and data_cfg.dataset != "dsprites":
        raise UserError(f"--final_metrics applies to dSprites only (its disentanglement "
                        f"metrics); {data_cfg.dataset} has none. Leave it out.")
    n_train = count_images(data_cfg.dataset, data_cfg.data_root, "train", data_cfg)
    check_schedules(req, settings, n_train)
    save_manifest(req, man)
    return settings, man, data_cfg, n_train


def run_compare(argv: list):
    """The command (raises ``UserError`` on bad input). Returns the report's path, or None when
    a run was stopped by Ctrl-C before the end."""
    req = Request(argv)
    settings, man, data_cfg, n_train = prepare(req)
    if not train_all(req, settings, man):
        return None
    path = write_report(req, man, data_cfg, n_train)
    print(f"wrote {path} (and its figures in {req.out})")
    return path


def resumable_main(run, usage: str, argv: list):
    """``run(argv)`` for a command line of resumable runs (this one, ``codegan.table``):
    ``--help`` prints ``usage``; a second Ctrl-C (which aborts the run in progress) says how to
    go on."""
    if any(a in ("-h", "--help") for a in argv):
        print(usage.strip())
        return True
    try:
        return run(argv)
    except KeyboardInterrupt:
        print("\naborted. Run the same command again: each run continues from its newest "
              "checkpoint.", file=sys.stderr)
        sys.exit(130)


@cli_guard
def main(argv: list):
    """``run_compare`` for the command line: a ``UserError`` prints one line and exits 2."""
    return resumable_main(run_compare, __doc__, argv)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:]) else 1)
