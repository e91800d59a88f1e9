"""The paper's main table as one command: every cell trained (or continued), then one page.

    python -m codegan.table --table=main [--folders=MNIST,COIL-20] [--methods=codegan,infogan]
        [--seeds=0,1,2] (--budget=FRACTION | --max_iters=N) [--out=DIR] [--jobs=N]
        [--launcher=local|slurm|submitit-local] [--select=final|fake_codes] [--wait=true|false]
        [--partition=NAME] [--time=MINUTES|H:MM:SS] [--gpus_per_job=N] [--cpus_per_job=N]
        [--mem_gb=N] [--max_requeues=N] [--key=value ...] [--<Folder>:key=value ...]

A cell is one (dataset folder, method); each trains one run per seed. Each folder is one
comparison of ``codegan.compare`` in ``<out>/<Folder>/`` (its ``compare.json``, run folders and
resume rules): the table calls its machinery, so a cell trained by either command continues in
the other. ``--budget=FRACTION`` gives each folder ``FRACTION`` of CoDeGAN's official schedule
(param.yml's ``max_step`` epochs), ``--max_iters=N`` the same iterations everywhere. A folder
whose data is missing is skipped with one line naming the file and where to put it, and listed
on the page. ``--key=value`` goes to every run's ``train.py``; ``--<Folder>:key=value`` to that
folder's runs only (``--COIL-20:classifier_path=...``).

Launchers: ``local`` trains here (``--jobs`` runs at a time); ``slurm`` submits one job per
(folder, method, seed) through submitit (``codegan.cluster``) with ``--partition``, ``--time``,
``--gpus_per_job``, ``--cpus_per_job``, ``--mem_gb``; a preempted or timed-out job checkpoints
(the trainer's SIGTERM handling) and is requeued, at most ``--max_requeues`` times after a
timeout, continuing from its checkpoint; ``submitit-local`` runs the same jobs as processes
here (submitit's local executor). ``--wait=false`` submits and returns; the same command again
waits for the jobs still running and writes the page.

The page, ``<out>/table.md`` (a later one ``table-1.md``, ...): per cell the mean ± std over
seeds of purity (the paper's ACC), Hungarian ACC, NMI (arithmetic mean normalisation) and ARI of
the checkpoint ``--select`` names (``final`` by default; ``fake_codes``, a label-free rule:
``codegan.cells.SELECT``) beside the paper's values,
the budget as a fraction of the method's official schedule, the collapse count per run
(``codegan.evaluation.collapse``), the run folders; and a row of the untrained networks
(iteration 0, the same protocol) per cell. Where param.yml lists a ``self`` mode under
``modes:``, CoDeGAN's pre-trained row ("CoDeGAN (self)") is trained too, after the folder's
SimCLR pre-training, in ``<out>/<Folder>-self/`` (docs/table.md).
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys

from . import compare
from .cells import (SELECT, UNTRAINED, ensure_pretrained, select_checkpoint,
                    untrained_scores)
from .config import BASE, folder_modes, load_config, parse_overrides, schema_for
from .data.datasets import count_images
from .errors import UserError, cli_guard, write_text
from .evaluation import compare_report as rep
from .evaluation.collapse import checkpoint_collapse, collapse_text
from .folders import repo_dataset_dir
from .methods import METHODS
from .methods import codegan_rules as rules

# the paper's tables: rows (dataset folders) and columns (methods)
TABLES = {"main": {"folders": ("MNIST", "Fashion-MNIST", "CIFAR-10", "COIL-20", "3D-Chairs",
                               "3D-Cars"),
                   "methods": ("codegan", "infogan", "clustergan", "infogan-cr")}}
SELF_MODE = "self"  # param.yml's modes: entry of the paper's "CoDeGAN (self)" rows
LAUNCHERS = ("local", "slurm", "submitit-local")
SLURM_KEYS = ("partition", "time", "gpus_per_job", "cpus_per_job", "mem_gb", "max_requeues")
OWN_KEYS = ("table", "folders", "methods", "seeds", "budget", "max_iters", "out", "launcher",
            "jobs", "select", "wait", *SLURM_KEYS)
REFUSED = {"folder": "use --folders=MNIST,COIL-20", "method": "use --methods=codegan,infogan",
           "seed": "use --seeds=0,1,2", "resume": "the command resumes by itself",
           "config": "use the folders' param.yml", "tsne_per_class": "the table draws no t-SNE"}
# the scores of a cell: the official protocol's lowest-inertia k-means run (or the argmax)
SCORES = (("acc_purity", "acc"), ("acc", None), ("nmi", "nmi"), ("ari", "ari"))
EXAMPLE = ("python -m codegan.table --table=main --folders=MNIST,COIL-20 --seeds=0,1,2 "
           "--budget=0.01")


class TableRequest:
    """The parsed command line. ``passthrough``: ``--key=value`` strings for every run;
    ``per_folder``: ``{folder: [--key=value, ...]}`` from ``--<Folder>:key=value``."""

    def __init__(self, argv: list):
        own, self.passthrough, self.per_folder = {}, [], {}
        for arg in argv:
            if not arg.startswith("--") or "=" not in arg:
                raise UserError(f"cannot read argument {arg!r}: write --key=value, e.g. "
                                f"{EXAMPLE}.")
            key, value = arg[2:].split("=", 1)
            if ":" in key:  # --COIL-20:classifier_path=...: that folder's runs only
                folder, key = key.split(":", 1)
                self.per_folder.setdefault(folder, []).append(f"--{key}={value}")
                continue
            key = key.replace("-", "_")
            if key in OWN_KEYS:
                own[key] = value
            elif key in REFUSED:
                raise UserError(f"--{key} is set per cell by the table: {REFUSED[key]}.")
            else:
                self.passthrough.append(arg)
        parse_overrides(self.passthrough)  # a malformed value stops here, before anything runs
        table = own.get("table", "main")
        if table not in TABLES:
            raise UserError(f"--table={table}: the tables are {', '.join(TABLES)}.")
        spec = TABLES[table]
        self.table = table
        self.folders = self._choose(own.get("folders"), spec["folders"], "folder")
        # a folder of the table left out by --folders keeps its options unused (one command
        # line serves any subset); a name the table does not have is a typo
        stray = sorted(set(self.per_folder) - set(spec["folders"]))
        if stray:
            raise UserError(f"--{stray[0]}:key=value names no folder of the table; the "
                            f"folders are {', '.join(spec['folders'])}.")
        self.methods = self._choose(own.get("methods"), spec["methods"], "method")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise UserError(f"unknown method {unknown[0]} in --methods; choose from "
                            f"{', '.join(METHODS)}.")
        try:
            self.seeds = [int(s) for s in compare._names(own.get("seeds", "0,1,2"))]
            self.jobs = int(own.get("jobs", 1))
        except ValueError:
            raise UserError("--seeds must be whole numbers (--seeds=0,1,2), --jobs a whole "
                            "number.") from None
        if min(self.seeds) < 0 or self.jobs < 1:
            raise UserError("--seeds must be >= 0 and --jobs >= 1.")
        self.budget, self.max_iters = _budget(own.get("budget"), own.get("max_iters"))
        self.select = own.get("select", "final")
        if self.select not in SELECT:
            raise UserError(f"--select={self.select}: the rules are final (each run's last "
                            f"checkpoint) and fake_codes (label-free: the checkpoint whose "
                            f"encoder best recovers G's codes from held-out fakes); the "
                            f"test-set best is none (it chooses by the labels it is scored "
                            f"on).")
        self.launcher = own.get("launcher", "local")
        if self.launcher not in LAUNCHERS:
            raise UserError(f"--launcher={self.launcher}: choose local (train here), slurm "
                            f"(one job per cell and seed) or submitit-local (those jobs as "
                            f"processes here).")
        wait = own.get("wait", "true").lower()
        if wait not in ("true", "false"):
            raise UserError(f"--wait={wait}: give true (wait for the jobs, then write the "
                            f"page) or false (submit and return).")
        self.wait = wait == "true"
        self.slurm = {k: own[k] for k in SLURM_KEYS if k in own}
        if self.slurm and self.launcher == "local":
            raise UserError(f"--{next(iter(self.slurm))} is a Slurm option; add "
                            f"--launcher=slurm (or leave it out to train here).")
        if self.launcher != "slurm" and not self.wait:
            raise UserError(f"--wait=false goes with --launcher=slurm (Slurm keeps the jobs "
                            f"after this command returns; {self.launcher} ones end with it).")
        if self.launcher != "local":
            _cluster().slurm_parameters(self.slurm)  # bad values stop here
        self.out = os.path.abspath(own.get("out") or "table")
        self.command = "python -m codegan.table " + shlex.join(argv)
        self.cwd = os.getcwd()
        self.device = str(parse_overrides(self.passthrough).get("device", "auto"))

    @staticmethod
    def _choose(text, allowed, what: str) -> list:
        if text is None:
            return list(allowed)
        names = compare._names(text)
        bad = [n for n in names if n not in allowed]
        if bad:
            raise UserError(f"unknown {what} {bad[0]} in --{what}s; the table's {what}s are "
                            f"{', '.join(allowed)}.")
        return names

    def folder_argv(self, folder: str, max_iters: int, methods: list, label: str | None = None,
                    extra: tuple = ()) -> list:
        """The ``codegan.compare`` command line of one folder's cells, in ``<out>/<label>``
        (default: the folder's name); ``extra`` settings come before the command's own, which
        win."""
        return [f"--folder={repo_dataset_dir(folder)}", f"--methods={','.join(methods)}",
                f"--seeds={','.join(map(str, self.seeds))}", f"--max_iters={max_iters}",
                f"--out={os.path.join(self.out, label or folder)}", "--tsne_per_class=0",
                f"--jobs={self.jobs}", *extra, *self.passthrough,
                *self.per_folder.get(folder, [])]


def _cluster():
    """``codegan.cluster``, which needs submitit (requirements.txt pins it)."""
    try:
        from . import cluster
    except ImportError as e:
        raise UserError(f"the {', '.join(LAUNCHERS[1:])} launchers need submitit ({e}): "
                        f"python -m pip install submitit==1.5.4, or use --launcher=local.") \
            from None
    return cluster


def _budget(budget, max_iters) -> tuple:
    """``(fraction or None, iterations or None)``: exactly one of ``--budget`` (a fraction in
    (0, 1] of the official schedule) and ``--max_iters`` (iterations > 0)."""
    if (budget is None) == (max_iters is None):
        raise UserError(f"give one of --budget=FRACTION (of each folder's official schedule, "
                        f"e.g. 0.01) or --max_iters=N (every run), not "
                        f"{'both' if budget is not None else 'neither'}; e.g. {EXAMPLE}.")
    if budget is not None:
        try:
            frac = float(budget.rstrip("%")) / (100 if budget.endswith("%") else 1)
        except ValueError:
            frac = float("nan")
        if not (0 < frac <= 1):  # also NaN
            raise UserError(f"--budget={budget}: give a fraction of the official schedule in "
                            f"(0, 1], e.g. --budget=0.01 (1%) or --budget=1 (all of it).")
        return frac, None
    try:
        n = int(max_iters)
    except ValueError:
        n = 0
    if n <= 0:
        raise UserError(f"--max_iters={max_iters}: give a whole number of iterations > 0.")
    return None, n


# -- one folder -----------------------------------------------------------------------------------
class Folder:
    """One row group of the table: its compare request (``req``), or why it was skipped
    (``skipped``: the missing-data message naming the file and where to put it). With ``mode``
    (``SELF_MODE``) the group is CoDeGAN in that mode of the folder's ``param.yml``
    (``modes:``), in ``<out>/<Folder>-<mode>/``, after its pre-training (``pretrain_argv``,
    ``weights``)."""

    def __init__(self, treq: TableRequest, name: str, mode: str | None = None):
        self.name, self.mode, self.req, self.skipped = name, mode, None, None
        self.label = f"{name}-{mode}" if mode else name
        self.path = repo_dataset_dir(name)
        schema = schema_for(BASE)  # the folder's CoDeGAN: its settings and the shared ones
        shared = {k: v for k, v in parse_overrides(
            treq.passthrough + treq.per_folder.get(name, [])).items() if k in schema}
        param = os.path.join(self.path, "param.yml")
        cfg = load_config(param, {**shared, **({"mode": mode} if mode else {})})
        try:
            self.n_train = count_images(cfg.dataset, cfg.data_root, "train", cfg)
        except UserError as e:  # load_images' message: which file to put where
            self.skipped = str(e)
            return
        self.dataset = cfg.dataset
        methods = [BASE] if mode else treq.methods
        self.schedules = compare.official_schedules(self.path, (BASE, *methods),
                                                    self.n_train)
        if mode:  # the mode's own schedule (CIFAR-10's self mode: 300 epochs, not 350)
            self.schedules[BASE] = (cfg.max_step, self.schedules[BASE][1])
        if treq.budget is not None:  # a fraction of CoDeGAN's official schedule
            max_step, ipe = self.schedules[BASE]
            self.max_iters = max(1, math.floor(treq.budget * max_step * ipe + 0.5))
        else:
            self.max_iters = treq.max_iters
        extra = self._mode_settings(treq, cfg) if mode else ()
        self.argv = treq.folder_argv(name, self.max_iters, methods, self.label, extra)
        self.req = compare.Request(self.argv)
        self.req.command = treq.command  # the manifest names the command that trained a run

    @property
    def pretrain(self):
        """``(dataset folder, pretrain.py's command line, weights file)`` of a pre-trained
        mode's cell (``cells.ensure_pretrained``), None for the others."""
        return (self.path, self.pretrain_argv, self.weights) if self.mode else None

    def _mode_settings(self, treq: TableRequest, cfg) -> tuple:
        """The settings of a pre-trained mode's cell at the table's budget. Every epoch count
        of the mode shrinks with the budget: the chain epoch (E_c frozen before it) becomes
        ``chain_iters`` at the same fraction of the run, and the pre-training takes the same
        fraction of its ``pretrain_epochs``. One pre-training per folder (param.yml's seed)
        serves every seed, as one pre_E file served the official runs. Where the official code
        also loads pre-trained G and D (Fashion-MNIST), they start from random weights
        (``load_path: scratch``): the official ones are not published."""
        max_step, ipe = self.schedules[BASE]
        frac = self.max_iters / (max_step * ipe)
        self.weights = os.path.join(treq.out, self.label, "E_c_simclr.pt")
        self.scratch_gd = rules.loads_pretrained_gd(cfg)
        per_pass = max(1, self.n_train // cfg.pretrain_batch_size)
        self.pretrain_iters = max(1, math.floor(frac * cfg.pretrain_epochs * per_pass + 0.5))
        self.pretrain_argv = [f"--mode={self.mode}", f"--pretrain_path={self.weights}",
                              f"--pretrain_iters={self.pretrain_iters}", *treq.passthrough,
                              *treq.per_folder.get(self.name, [])]
        out = [f"--mode={self.mode}", f"--pretrain_path={self.weights}"]
        start = rules.ec_start_epoch(cfg)
        if start:
            out.append(f"--chain_iters={max(1, math.floor(frac * start * ipe + 0.5))}")
        if self.scratch_gd:
            out.append("--load_path=scratch")
        return tuple(out)

    @property
    def methods(self) -> list:
        return self.req.methods


# -- the command --------------------------------------------------------------------------------
def run_table(argv: list):
    """The command (raises ``UserError`` on bad input). Returns the page's path; True when
    jobs are still queued or running (``--wait=false``: the same command later writes the
    page); None when training stopped early (Ctrl-C)."""
    treq = TableRequest(argv)
    folders = []
    for name in treq.folders:
        folders.append(Folder(treq, name))
        if folders[-1].skipped:
            print(f"skipped {name}: {folders[-1].skipped}")
        elif BASE in treq.methods and SELF_MODE in folder_modes(folders[-1].path):
            folders.append(Folder(treq, name, SELF_MODE))  # the paper's "CoDeGAN (self)"
    todo = [f for f in folders if f.req is not None]
    prepared = {f.label: compare.prepare(f.req) for f in todo}  # every check before any run
    if treq.launcher == "local":
        for f in todo:
            settings, man, _, _ = prepared[f.label]
            if f.pretrain:
                ensure_pretrained(*f.pretrain)
            for s in f.req.seeds:
                for m in f.methods:
                    untrained_scores(f.req, m, s)
            if not compare.train_all(f.req, settings, man):
                return None
    elif not _cluster().run_jobs(treq, todo, prepared):
        return True  # submitted; nothing failed
    path = write_table(treq, folders)
    print(f"wrote {path}")
    return path


# -- the page -------------------------------------------------------------------------------------
def cell_stats(req, method: str, select: str = "final") -> dict:
    """``{"stats": aggregate of the selected records, "n": how many seeds they are,
    "untrained": aggregate of iteration 0, "g_skipped": whether the G-based part was skipped (no
    classifier), "collapse": [per seed], "collapse0": [per seed], "links": [(seed, [run folders,
    oldest first])], "missing": [seeds without a final checkpoint], "chosen": [(seed, iteration
    the rule ``select`` chose, how many checkpoints it chose from)]}``."""
    finals, zeros, col, col0, links, missing, chosen = [], [], [], [], [], [], []
    for s in req.seeds:
        records, chain = compare.history(req.seed_dir(method, s))
        ckpt, how = select_checkpoint(req, method, s, select,
                                      {r["iteration"] for r in records})
        if ckpt is None:
            missing.append(s)
            continue
        rec = next((r for r in records if r["iteration"] == how["iteration"]), None)
        if rec is not None:
            finals.append(rec)
        chosen.append((s, how["iteration"], len(how["candidates"])))
        col.append(checkpoint_collapse(ckpt, req.device))
        links.append((s, [r for r, _ in chain]))
        path = os.path.join(req.seed_dir(method, s), UNTRAINED)
        if os.path.isfile(path):
            with open(path) as fh:
                zero = json.load(fh)
            zeros.append(zero["scores"])
            col0.append(zero["collapse"])
    return {"stats": rep.aggregate(finals), "n": len(finals), "untrained": rep.aggregate(zeros),
            "g_skipped": any(str(r.get("g_based", "")).startswith("skipped") for r in finals),
            "collapse": col, "collapse0": col0, "links": links, "missing": missing,
            "chosen": chosen}


def score_cells(stats: dict, published) -> list:
    """The score columns of one row: ours (``*_best_of_runs``, mean ± std) and the paper's."""
    cells = []
    for ours, theirs in SCORES:
        s = stats.get(ours + "_best_of_runs")
        cells.append(rep.fmt(*s) if s else "–")
        if theirs is not None:
            cells.append(f"{published[theirs]:.2f}{'*' if published['rerun'] else ''}"
                         if published else "–")
    return cells


HEADER = ["| dataset | method | seeds | budget | purity (ACC) | paper ACC | Hungarian ACC "
          "| NMI | paper NMI | ARI | paper ARI | collapse per seed | runs |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]


def folder_rows(treq: TableRequest, f: Folder, out: str) -> list:
    """The markdown rows of one folder: per method its trained cell, then its untrained one."""
    blank = ["–"] * 7
    if f.skipped:
        return [f"| {f.name} | all | – | – | " + " | ".join(blank) + f" | – | data missing: "
                f"{_cell_text(f.skipped)} |"]
    rows = []
    for m in f.methods:
        c = cell_stats(f.req, m, treq.select)
        if f.mode:  # the paper's row of this method in that mode ("CoDeGAN (self)")
            pub = METHODS[m].paper_scores_by_mode.get(f.mode, {}).get(f.dataset)
        else:
            pub = rep.PUBLISHED.get(f.dataset, {}).get(m)
        label = f"{m} ({f.mode})" if f.mode else m
        seeds = c["n"]
        max_step, ipe = f.schedules[m]
        frac = rep.budget_fraction(f.max_iters, max_step, ipe)
        budget = f"{f.max_iters:,} it. = {100 * frac:.3g}%"
        runs = "; ".join(f"s{s}: " + " → ".join(
            f"[{os.path.basename(r)}]({os.path.relpath(r, out)})" for r in chain)
            for s, chain in c["links"])
        if c["missing"]:
            runs += f"; not finished: seed {', '.join(map(str, c['missing']))}"
        if treq.select != "final":  # which checkpoint the rule chose, of how many
            runs += "; chosen: " + ", ".join(f"s{s} iteration {it:,} of {n}"
                                             for s, it, n in c["chosen"])
        runs += _mode_note(f, out)
        if c["g_skipped"]:  # the E-based numbers only: say why the scores are missing
            runs += (f"; no G-based scores: no usable classifier (python train_classifier.py "
                     f"in {f.name}/, or --{f.name}:classifier_path=...)")
        col = _per_seed(c["collapse"])
        rows.append(f"| {f.name} | {label} | {seeds} | {budget} | "
                    + " | ".join(score_cells(c["stats"], pub)) + f" | {col} | {runs} |")
        col0 = _per_seed(c["collapse0"])
        n0 = max((n for _, _, n in c["untrained"].values()), default=0)
        rows.append(f"| {f.name} | {label}, untrained (iteration 0) | {n0} | 0% | "
                    + " | ".join(score_cells(c["untrained"], None)) + f" | {col0} | – |")
    return rows


def _mode_note(f: Folder, out: str) -> str:
    """What a pre-trained mode's cell started from, for its "runs" column."""
    if not f.mode:
        return ""
    note = (f"; E_c pre-trained {f.pretrain_iters:,} iterations (SimCLR, "
            f"[{os.path.basename(f.weights)}]({os.path.relpath(f.weights, out)}), param.yml's "
            f"modes: {f.mode})")
    if f.scratch_gd:
        note += "; G and D from random weights (the official code's pre_G / pre_D are unpublished)"
    return note


def _per_seed(counts: list) -> str:
    """The collapse counts of the seeds, or one dash when there is none (E-based folders)."""
    if all("missing" in x for x in counts):
        return "–"
    return ", ".join(collapse_text(x) for x in counts)


def _cell_text(text: str) -> str:
    return " ".join(text.replace("|", "/").split())


def write_table(treq: TableRequest, folders: list) -> str:
    """``<out>/table.md`` (``table-1.md``, ... when one is there already). Returns its path."""
    os.makedirs(treq.out, exist_ok=True)
    path = os.path.join(treq.out, f"table{rep.free_suffix(treq.out, lambda s: [f'table{s}.md'])}"
                                  f".md")
    rows = [r for f in folders for r in folder_rows(treq, f, treq.out)]
    g_based = [f.name for f in folders if not f.skipped and
               load_config(os.path.join(f.path, "param.yml")).eval_protocol == "g-based"]
    budget = (f"{treq.budget:g} of CoDeGAN's official schedule per folder (param.yml's max_step "
              f"epochs of one real minibatch each)" if treq.budget is not None else
              f"{treq.max_iters:,} iterations per run")
    text = "\n".join([
        f"# The paper's {treq.table} table, reproduced", "",
        f"Made by `{treq.command}` ({rep.where_run(treq.cwd)}) on "
        f"{compare.machine(treq.device)}; launcher {treq.launcher}.", "",
        f"- Checkpoint: {SELECT[treq.select]} (`--select={treq.select}`), never the best on "
        f"the test set. The official code picks none either: it appends every evaluation to "
        f"test_result.txt (learninginvision/CoDeGAN@348d046:MNIST/test.py:72-79).",
        f"- Seeds: {', '.join(map(str, treq.seeds))}; mean ± sample std (ddof=1) over the "
        f"seeds that finished.",
        f"- Budget: {budget}; each cell's column gives its iterations as a fraction of its "
        f"method's official schedule (CoDeGAN's unless the method's authors published one for "
        f"the dataset). The paper's values come after the full schedule.",
        "- Protocol: the folder's own. E-based: k-means on the method's encoder features of "
        "the real test images. G-based" + (f" ({', '.join(g_based)})" if g_based else "") +
        ": a classifier trained on the real images assigns classes to G's samples of each "
        "class code. Ours: the official protocol's lowest-inertia k-means run "
        "(`*_best_of_runs`; the argmax where the protocol assigns by it).",
        "- purity (ACC): each cluster takes its majority class, the paper's ACC (the official "
        "code's calculate_acc); Hungarian ACC: the one-to-one matching of clusters to classes "
        "(never above purity). NMI: normalised mutual information with the arithmetic mean of "
        "the two entropies as normaliser (scikit-learn's default, average_method="
        "'arithmetic'). ARI: adjusted Rand index.",
        "- Paper: CoDeGAN's main table (arXiv 2103.03636) as recorded in "
        "codegan/evaluation/compare_report.py; * = re-run by the CoDeGAN authors; – = no value "
        "recorded for that cell.",
        "- Collapse per seed: `codes without a class of their own / codes sharing a class` "
        "from the G-based classifier's assignment of G's samples "
        "(codegan/evaluation/collapse.py); – where the folder has no classifier.",
        "- Untrained (iteration 0): the networks each run starts from, before any step, "
        "scored with the same protocol.", "",
        *HEADER, *rows, ""])
    write_text(path, text, exclusive=True)
    return path


@cli_guard
def main(argv: list):
    """``run_table`` for the command line: a ``UserError`` prints one line and exits 2."""
    return compare.resumable_main(run_table, __doc__, argv)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:]) else 1)
