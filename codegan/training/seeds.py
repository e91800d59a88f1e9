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

from ..checkpoint import list_checkpoints
from ..errors import UserError, write_text
from ..evaluation.compare_report import aggregate
from ..evaluation.plots import read_metrics
from .runs import run_end
from .train import EXIT_ABORTED, EXIT_PREEMPTED, RunAborted, RunPreempted, train


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


_IN_RUN = False  # in a worker process of --jobs: whether a run is under way
_STOP = None  # in a worker process of --jobs: the pool's event "a signal came, start no run"


def _worker_signals(stop) -> None:
    """A worker of --jobs between runs ignores Ctrl-C and SIGTERM (the terminal and the cluster
    signal the whole process group; a worker that died of it would break the pool and take
    the running runs down with it). During a run the trainer's own handler answers; before it
    is in place (the data loading) Ctrl-C aborts and SIGTERM preempts, as in a run alone."""
    global _STOP
    _STOP = stop  # set by the parent, which gets the same signal (setting it here, inside a
    # handler that may interrupt this process's own is_set, could deadlock on the event's lock)

    def handler(signum, frame):
        if _IN_RUN:
            if signum == signal.SIGTERM:
                sys.exit(EXIT_PREEMPTED)
            raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def _train_one(dataset_dir: str, argv: list) -> tuple:
    """One run in a worker process: ``("done", run folder)``, ``("preempted", run folder)`` when
    SIGTERM stopped it after its checkpoint (``("preempted", None)``: while its data loaded),
    ``("aborted", RunAborted)`` when a second Ctrl-C aborted it, ``("skipped", None)`` when a
    signal came before it started. (The pool hands a worker its next run before the last one
    ends, so cancelling it in the parent is too late.)"""
    global _IN_RUN
    if _STOP.is_set():
        return "skipped", None
    _IN_RUN = True
    try:
        return "done", train(dataset_dir, argv)
    except RunAborted as e:
        return "aborted", e
    except RunPreempted as e:
        return "preempted", e.run_dir
    except SystemExit as e:  # SIGTERM while the data loaded (the handler above)
        if e.code == EXIT_PREEMPTED:
            return "preempted", None
        raise
    finally:
        _IN_RUN = False


def preempted(results: list) -> bool:
    """Whether SIGTERM stopped any run of ``train_runs``'s results (a ``RunPreempted``)."""
    return any(isinstance(r, RunPreempted) for r in results)


def stopped_early(result) -> bool:
    """Whether a result of ``train_runs`` is not a finished run: aborted, not started,
    preempted, or stopped by a first Ctrl-C (after its final evaluation and checkpoint)."""
    return not isinstance(result, str) or bool((run_end(result) or {}).get("interrupted"))


def train_runs(dataset_dir: str, argvs: list, jobs: int) -> list:
    """Train one run per command line of ``argvs``, ``jobs`` at a time (separate processes when
    ``jobs`` > 1, each with ``cores // jobs`` threads and no progress bar unless its command
    line says otherwise; in this process, one after the other, when 1).

    Returns one result per command line, in their order: the run folder, or the ``RunAborted``
    of a run a second Ctrl-C aborted, or the ``RunPreempted`` of a run SIGTERM stopped, or None
    for a run not started. Ctrl-C and SIGTERM end the batch: no run starts after them, and the
    runs under way stop after their final evaluation and checkpoint (``stopped_early``). The
    caller says how to go on, and exits with ``EXIT_PREEMPTED`` after SIGTERM."""
    if jobs < 1:
        raise UserError(f"--jobs={jobs}: give 1 or more parallel runs.")
    jobs = min(jobs, len(argvs))
    results = [None] * len(argvs)
    if jobs <= 1:  # one run, or none
        for i, a in enumerate(argvs):
            try:
                results[i] = train(dataset_dir, a)
            except (RunAborted, RunPreempted) as e:
                results[i] = e
            if stopped_early(results[i]):
                break
        return results
    argvs = [_parallel_defaults(a, jobs) for a in argvs]
    # the signals reach the workers too (one process group): each run under way answers it;
    # this process notes it, starts no further run, and waits for them
    ctx = get_context("spawn")
    stop = ctx.Event()  # set by the first signal: no run starts after it
    old = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT,
                                                                       signal.SIGTERM)}
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_signals,
                                 initargs=(stop,)) as pool:
            outcomes = list(pool.map(_train_one, [dataset_dir] * len(argvs), argvs))
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return [RunPreempted(value) if kind == "preempted" else value  # skipped: None
            for kind, value in outcomes]


def _parallel_defaults(argv: list, jobs: int) -> list:
    keys = {a[2:].split("=", 1)[0] for a in argv}
    if "num_threads" not in keys:  # the cores shared out, not oversubscribed
        argv = [*argv, f"--num_threads={max(1, (os.cpu_count() or 1) // jobs)}"]
    if "progress" not in keys:  # one progress bar per process would interleave
        argv = [*argv, "--progress=false"]
    return argv


def run_seeds(dataset_dir: str, argv: list, seeds: list, jobs: int) -> list:
    """Train ``argv`` once per seed (``--seed=k`` appended), ``jobs`` at a time; write the
    summary. Returns the run folders in seed order. A Ctrl-C exits with ``EXIT_ABORTED``,
    SIGTERM with ``EXIT_PREEMPTED``, each with one line saying where each seed stands and
    without the summary."""
    results = train_runs(dataset_dir, [[*argv, f"--seed={s}"] for s in seeds], jobs)
    if any(stopped_early(r) for r in results):
        print(f"\n{seeds_stop_message(seeds, results)}", file=sys.stderr)
        sys.exit(EXIT_PREEMPTED if preempted(results) else EXIT_ABORTED)
    path = write_summary(results, seeds)
    print(f"seeds {', '.join(map(str, seeds))}: summary in {path}")
    return results


def _seed_state(seed: int, result) -> str:
    if isinstance(result, RunPreempted):
        result = result.run_dir  # None: SIGTERM came while its data loaded
    if result is None:
        return f"seed {seed} not started"
    if isinstance(result, RunAborted):
        at = f" at iteration {result.iteration}" if result.iteration is not None else ""
        last = (f" (last checkpoint {result.checkpoint})" if result.checkpoint else
                " (no checkpoint)")
        return f"seed {seed} aborted{at} without its final evaluation{last}"
    end = run_end(result)
    if not end.get("interrupted"):
        return f"seed {seed} finished"
    return (f"seed {seed} stopped at iteration {end['iteration']} after its final evaluation "
            f"({list_checkpoints(result)[-1]})")


def seeds_stop_message(seeds: list, results: list) -> str:
    """The line for ``--seeds`` stopped by Ctrl-C or SIGTERM: each seed's state (finished,
    stopped with a checkpoint, aborted, not started) and how to go on: ``--resume`` cannot go
    with ``--seeds``, so a run is continued alone."""
    states = "; ".join(_seed_state(s, r) for s, r in zip(seeds, results))
    by = "SIGTERM" if preempted(results) else "Ctrl-C"
    return (f"stopped by {by}, without the seeds' summary: {states}. Continue a stopped or "
            f"aborted run alone with --seed=k --resume=auto in place of --seeds, and start a "
            f"seed not started with --seed=k; the --seeds command run again starts every run "
            f"anew.")


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
