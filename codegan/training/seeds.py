"""Several seeds of one setting: ``python train.py --seeds=0,1,2 [--jobs=N]``.

One run per seed, each in its own numbered run folder, as ``jobs`` parallel processes (``jobs:
1``, the default: one after the other in this process); then a summary beside the run folders:
the mean and sample std over seeds of every final metric (``summary-<first run>.md`` and
``.json`` in ``out``). Parallel processes pay on a GPU, where the MNIST-sized loop is
launch-bound and several runs share the card; on a CPU each process gets ``cores // jobs``
threads unless ``--num_threads`` says otherwise. A seed's run computes what ``--seed=k`` alone
computes: the processes share nothing.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from ..errors import UserError, write_text
from ..evaluation.compare_report import aggregate
from ..evaluation.plots import read_metrics
from .train import EXIT_ABORTED, EXIT_PREEMPTED, RunAborted, train


def parse_seeds(value) -> list:
    """``--seeds=0,1,2`` (or a YAML list) -> [0, 1, 2]; distinct whole numbers >= 0."""
    items = value if isinstance(value, list) else str(value).split(",")
    try:
        seeds = [int(str(s).strip()) for s in items if str(s).strip() != ""]
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds={value!r}: give distinct whole numbers >= 0, e.g. "
                        f"--seeds=0,1,2.")
    return seeds


def _train_one(dataset_dir: str, argv: list) -> str:
    """One run (in a worker process, or in this one). Returns its run folder, or None when
    SIGTERM stopped it (after its checkpoint)."""
    try:
        return train(dataset_dir, argv)
    except SystemExit as e:
        if e.code == EXIT_PREEMPTED:
            return None
        raise


def train_runs(dataset_dir: str, argvs: list, jobs: int) -> list:
    """Train one run per command line of ``argvs``, ``jobs`` at a time (separate processes when
    ``jobs`` > 1, each with ``cores // jobs`` threads and no progress bar unless its command
    line says otherwise; in this process, one after the other, when 1). Returns the run
    folders in the order of ``argvs``."""
    if jobs < 1:
        raise UserError(f"--jobs={jobs}: give 1 or more parallel runs.")
    jobs = min(jobs, len(argvs))
    if jobs <= 1:  # one run, or none
        return [train(dataset_dir, a) for a in argvs]
    argvs = [_parallel_defaults(a, jobs) for a in argvs]
    # SIGTERM reaches the workers too (one process group): each checkpoints and stops; this
    # process waits for them, then exits as a preempted run does
    old = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            runs = list(pool.map(_train_one, [dataset_dir] * len(argvs), argvs))
    finally:
        signal.signal(signal.SIGTERM, old)
    if None in runs:
        print("stopped by SIGTERM with checkpoints; continue each run with --resume=auto",
              file=sys.stderr)
        sys.exit(EXIT_PREEMPTED)
    return runs


def _parallel_defaults(argv: list, jobs: int) -> list:
    keys = {a[2:].split("=", 1)[0] for a in argv}
    if "num_threads" not in keys:  # the cores shared out, not oversubscribed
        argv = [*argv, f"--num_threads={max(1, (os.cpu_count() or 1) // jobs)}"]
    if "progress" not in keys:  # one progress bar per process would interleave
        argv = [*argv, "--progress=false"]
    return argv


def run_seeds(dataset_dir: str, argv: list, seeds: list, jobs: int) -> list:
    """Train ``argv`` once per seed (``--seed=k`` appended), ``jobs`` at a time; write the
    summary. Returns the run folders in seed order."""
    argvs = [[*argv, f"--seed={s}"] for s in seeds]
    if min(jobs, len(argvs)) != 1:
        runs = train_runs(dataset_dir, argvs, jobs)
    else:  # one after the other in this process: a second Ctrl-C is said per seed
        runs = []
        for seed, a in zip(seeds, argvs):
            try:
                runs.append(train(dataset_dir, a))
            except RunAborted as e:
                print(f"\n{seeds_abort_message(seed, seeds[:len(runs)], e)}", file=sys.stderr)
                sys.exit(EXIT_ABORTED)
    path = write_summary(runs, seeds)
    print(f"seeds {', '.join(map(str, seeds))}: summary in {path}")
    return runs


def seeds_abort_message(seed: int, finished: list, e: RunAborted) -> str:
    """The line for ``--seeds`` aborted by a second Ctrl-C in the run of ``seed``: ``--resume``
    cannot go with ``--seeds``, so the run is continued alone."""
    at = f" at iteration {e.iteration}" if e.iteration is not None else ""
    done = (f" The run of seed {finished[0]} is finished." if len(finished) == 1 else
            f" The runs of seeds {', '.join(map(str, finished))} are finished." if finished else "")
    go_on = (f" Its last checkpoint is {e.checkpoint}; continue that run alone with --seed={seed} "
             f"--resume=auto in place of --seeds." if e.checkpoint else "")
    return (f"aborted in the run of seed {seed}{at}, without its final evaluation and the seeds' "
            f"summary.{done}{go_on} The --seeds command run again starts every run anew.")


def write_summary(runs: list, seeds: list) -> str:
    """``summary-<first run>.md`` (a table) and ``.json`` beside the run folders: mean and std
    over seeds of every numeric score of each run's final evaluation. Never overwrites."""
    finals = [read_metrics(r)[-1] for r in runs]
    stats = aggregate(finals)
    stem = os.path.join(os.path.dirname(runs[0]), f"summary-{os.path.basename(runs[0])}")
    n = 0
    while os.path.exists(stem + (f"-{n}" if n else "") + ".md"):
        n += 1
    stem += f"-{n}" if n else ""
    lines = [f"# {len(seeds)} seeds: {', '.join(map(str, seeds))}", "",
             "Final evaluation of each run; mean ± sample std (ddof=1) over seeds.", "",
             "| run | seed | iteration |", "|---|---:|---:|"]
    lines += [f"| {os.path.basename(r)} | {s} | {f['iteration']} |"
              for r, s, f in zip(runs, seeds, finals)]
    lines += ["", "| metric | mean | std | seeds |", "|---|---:|---:|---:|"]
    lines += [f"| {k} | {m:.4f} | {sd:.4f} | {c} |" for k, (m, sd, c) in stats.items()]
    write_text(stem + ".md", "\n".join(lines) + "\n", exclusive=True)
    write_text(stem + ".json", json.dumps({"seeds": seeds, "runs": runs,
                                           "stats": {k: {"mean": m, "std": sd, "n": c}
                                                     for k, (m, sd, c) in stats.items()}},
                                          indent=1), exclusive=True)
    return stem + ".md"
