"""The table's cluster launcher (``python -m codegan.table --launcher=slurm``): one submitit job
per (folder, method, seed), each training its run through ``codegan.compare``'s per-cell
decision (``cell_plan``: fresh, continued from its newest checkpoint, or reused).

Preemption and timeouts. Slurm sends SIGTERM before it preempts a job: the trainer finishes the
iteration, evaluates and checkpoints (its own SIGTERM handling), ``train`` exits with
``EXIT_PREEMPTED``, and the job asks submitit to requeue it (submitit's requeue handler,
``scontrol requeue`` on Slurm, a restart under the local executor). Before a timeout submitit
sends its own signal (USR2, ``signal_delay_s`` ahead): the job turns it into the same SIGTERM,
so the run checkpoints first, and submitit counts the timeout (``--max_requeues`` of them). A
requeued job decides again from the files: it continues from the newest checkpoint, so it ends
where an uninterrupted run ends.
"""

from __future__ import annotations

import json
import os
import re
import signal

import submitit

from . import compare
from .cells import UNTRAINED
from .errors import UserError, write_text
from .training.train import EXIT_PREEMPTED, train

JOBS_FILE = "jobs.json"  # in the table's folder: the job of each cell, for a later invocation
ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING",
          "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED"}


def _whole(key: str, value, low: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = low - 1
    if n < low:
        raise UserError(f"--{key}={value}: give a whole number >= {low}.")
    return n


def minutes(text: str) -> int:
    """``--time``: minutes (``90``), ``H:MM``, ``H:MM:SS`` or ``D-H:MM:SS`` -> whole minutes
    (rounded up, at least 1)."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d{1,2}))?(?::(\d{1,2}))?", str(text).strip())
    if not m:
        raise UserError(f"--time={text}: give minutes (--time=90) or H:MM:SS (--time=4:00:00).")
    d, a, b, c = (int(x) if x else 0 for x in m.groups())
    if m.group(3) is None:  # plain minutes (or D-minutes, which Slurm reads as D-H: refuse)
        if m.group(1):
            raise UserError(f"--time={text}: write days as D-H:MM:SS (--time=1-00:00:00).")
        total_s = a * 60
    elif m.group(4) is None:  # H:MM
        total_s = d * 86400 + a * 3600 + b * 60
    else:
        total_s = d * 86400 + a * 3600 + b * 60 + c
    if total_s <= 0:
        raise UserError(f"--time={text}: give a positive time limit.")
    return max(1, -(-total_s // 60))


def slurm_parameters(opts: dict) -> dict:
    """The table's Slurm options (``--partition``, ``--time``, ``--gpus_per_job``,
    ``--cpus_per_job``, ``--mem_gb``, ``--max_requeues``; strings) as submitit's: ``{"params":
    for SlurmExecutor.update_parameters, "max_num_timeout": int}``. Bad values raise
    ``UserError``. Every job asks Slurm to requeue it on preemption (``--requeue``)."""
    params = {"nodes": 1, "ntasks_per_node": 1, "time": minutes(opts.get("time", "1440")),
              "gpus_per_node": _whole("gpus_per_job", opts.get("gpus_per_job", 1), 0),
              "cpus_per_task": _whole("cpus_per_job", opts.get("cpus_per_job", 8), 1),
              "signal_delay_s": 120,  # the trainer's final evaluation and checkpoint fit
              "additional_parameters": {"requeue": True}, "job_name": "codegan-table"}
    if "partition" in opts:
        if not re.fullmatch(r"[\w.,-]+", opts["partition"]):
            raise UserError(f"--partition={opts['partition']}: give a Slurm partition name.")
        params["partition"] = opts["partition"]
    if "mem_gb" in opts:
        params["mem"] = f"{_whole('mem_gb', opts['mem_gb'], 1)}GB"
    return {"params": params,
            "max_num_timeout": _whole("max_requeues", opts.get("max_requeues", 3), 0)}


def make_executor(kind: str, folder: str, opts: dict):
    """A submitit executor writing its job files in ``folder``: ``slurm`` (sbatch) or
    ``submitit-local`` (processes on this machine, same job files and requeue path)."""
    sp = slurm_parameters(opts)
    if kind == "submitit-local":
        ex = submitit.LocalExecutor(folder=folder)
        p = sp["params"]
        ex.update_parameters(timeout_min=p["time"], gpus_per_node=p["gpus_per_node"],
                             signal_delay_s=p["signal_delay_s"])
        return ex
    try:
        ex = submitit.SlurmExecutor(folder=folder, max_num_timeout=sp["max_num_timeout"])
    except RuntimeError as e:  # no srun: not a Slurm machine
        raise UserError(f"--launcher=slurm needs Slurm ({e}); run the command on the "
                        f"cluster's login node, or use --launcher=local.") from None
    ex.update_parameters(**sp["params"])
    return ex


class CellJob(submitit.helpers.Checkpointable):
    """One (folder, method, seed) of the table, as a submitit job. Called with the folder's
    ``codegan.compare`` command line, the method, the seed, the working directory and, in a
    pre-trained mode, its pre-training (``Folder.pretrain``); returns
    ``{"method", "seed", "iteration", "run"}``. Requeued with the same arguments
    (``Checkpointable.checkpoint``): the files say how far it got."""

    def __call__(self, folder_argv: list, method: str, seed: int, cwd: str,
                 pretrain: tuple | None = None) -> dict:
        from .evaluation.collapse import checkpoint_collapse
        from .cells import ensure_pretrained, untrained_scores

        os.chdir(cwd)  # the command line's relative paths
        if pretrain:  # a pre-trained mode's cell: the folder's pre-training, once for all jobs
            ensure_pretrained(*pretrain)
        req = compare.Request(folder_argv)
        settings = compare.settings_of(req)
        untrained_scores(req, method, seed)  # on the job's device, once
        argv, say = compare.cell_plan(req, settings, method, seed)
        print(say, flush=True)
        if argv is not None:
            self._train(req.folder, argv)
        run, ckpt = compare.newest_checkpoint(req.seed_dir(method, seed))
        checkpoint_collapse(ckpt, req.device)  # kept beside it for the page
        return {"method": method, "seed": seed, "run": run,
                "iteration": compare.checkpoint_iteration(ckpt)}

    @staticmethod
    def _train(folder: str, argv: list) -> None:
        try:
            usr = submitit.JobEnvironment()._usr_sig()
        except RuntimeError:  # not in a submitit job (called directly): no requeue to ask for
            usr = None
        requeue = signal.getsignal(usr) if usr else None  # submitit's requeue handler
        if usr:  # a timeout is coming: checkpoint as on preemption (the trainer's SIGTERM)
            signal.signal(usr, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
        try:
            train(folder, argv)
        except SystemExit as e:
            if e.code != EXIT_PREEMPTED or not callable(requeue):
                raise
            signal.signal(usr, requeue)
            print("checkpointed after SIGTERM; asking submitit to requeue this job",
                  flush=True)
            requeue(usr, None)  # requeues and exits (on Slurm: scontrol requeue)
            raise
        finally:
            if usr and callable(requeue):
                signal.signal(usr, requeue)


def _cells(folder) -> list:
    return [(m, s) for s in folder.req.seeds for m in folder.req.methods]


def _key(folder, m: str, s: int) -> str:
    return f"{folder.label}/{m}/seed{s}"


def _active(record: dict, jobs_dir: str):
    """The job of an earlier invocation when it is still pending or running on Slurm."""
    if record.get("launcher") != "slurm":  # a local executor's processes ended with it
        return None
    job = submitit.SlurmJob(folder=jobs_dir, job_id=record["job_id"])
    return job if job.state.split(" ")[0] in ACTIVE else None


def run_jobs(treq, folders: list, prepared: dict) -> bool:
    """Submit a job for every cell and seed not finished yet (a job an earlier invocation
    submitted that is still queued or running is waited for, not submitted again); wait for
    them unless ``--wait=false``. Returns True when every job ended (the page can be written)."""
    jobs_dir = os.path.join(treq.out, "jobs")
    os.makedirs(jobs_dir, exist_ok=True)
    book_path = os.path.join(treq.out, JOBS_FILE)
    book = {}
    if os.path.isfile(book_path):
        with open(book_path) as f:
            book = json.load(f)
    ex = make_executor(treq.launcher, jobs_dir, treq.slurm)
    running = []  # (key, job)
    for folder in folders:
        settings, man = prepared[folder.label][:2]
        submitted = []
        for m, s in _cells(folder):
            key = _key(folder, m, s)
            earlier = _active(book[key], jobs_dir) if key in book else None
            if earlier is not None:
                print(f"{key}: job {earlier.job_id} of an earlier invocation is "
                      f"{earlier.state.lower()}; waiting for it", flush=True)
                running.append((key, earlier))
                continue
            argv, say = compare.cell_plan(folder.req, settings, m, s, f"{key}:")
            if argv is None and os.path.isfile(os.path.join(folder.req.seed_dir(m, s),
                                                            UNTRAINED)):
                print(say)
                continue
            job = ex.submit(CellJob(), folder.argv, m, s, folder.req.cwd, folder.pretrain)
            print(f"{key}: job {job.job_id} submitted ({say.split(':', 1)[1].strip()})",
                  flush=True)
            book[key] = {"job_id": job.job_id, "launcher": treq.launcher}
            running.append((key, job))
            submitted.append((m, s))
        if submitted:
            invocation = {"command": treq.command, "machine": f"{treq.launcher} jobs",
                          "trained": []}
            compare.note_trained(folder.req, man, invocation, submitted)
    write_text(book_path, json.dumps(book, indent=1))
    if not treq.wait:
        if running:
            print(f"{len(running)} jobs queued or running (job files in {jobs_dir}); run the "
                  f"same command again to wait for them and write the table.")
            return False
        return True
    failed = []
    for key, job in running:
        try:
            res = job.result()
            print(f"{key}: done at iteration {res['iteration']}", flush=True)
        except Exception as e:  # noqa: BLE001  (submitit's failure: the job's own log says why)
            failed.append(f"{key} (job {job.job_id}: {str(e).strip().splitlines()[0][:200]}; "
                          f"log {job.paths.stderr})")
    if failed:
        raise UserError(f"{len(failed)} job(s) failed: {'; '.join(failed)}. Fix the cause and "
                        f"run the same command again: finished cells are reused, the others "
                        f"continue from their checkpoints.")
    return True
