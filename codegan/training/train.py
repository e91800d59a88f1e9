"""One training run from a command line: what ``train.py`` runs (``codegan.training.cli`` adds
the error printing and ``--seeds``; ``codegan.training.seeds`` and ``codegan.compare`` call it for
each of their runs)."""

from __future__ import annotations

import os

from ..checkpoint import list_checkpoints
from ..config import (keys_of_roles, load_config, parse_overrides, read_yaml, stored,
                      validate)
from ..errors import UserError
from ..keys import RESUMABLE
from .loop import Trainer
from .runs import list_runs

# what may change when a run is resumed: where and how long, never what is computed (the keys'
# declared roles, codegan.keys.RESUMABLE)
RESUME_KEYS = keys_of_roles(*RESUMABLE)


def config_path(dataset_dir: str, overrides: dict) -> str:
    """``--config=FILE`` (taken out of ``overrides``), else the folder's param.yml."""
    path = overrides.pop("config", None)
    return os.path.abspath(path) if path else os.path.join(dataset_dir, "param.yml")


# exit status of a run stopped by SIGTERM after its checkpoint (a requeued job resumes it with
# --resume=auto); 128 + 15, what a shell reports for a process ended by SIGTERM
EXIT_PREEMPTED = 143
# exit status of a run aborted by Ctrl-C (a second one, or one before the run's handler is in
# place); 128 + 2, what a shell reports for a process ended by SIGINT
EXIT_ABORTED = 130


class RunAborted(KeyboardInterrupt):
    """Ctrl-C aborted ``train`` (a second one, or one before the run's handler was in place).
    Still a KeyboardInterrupt: ``seeds.train_runs`` hands it back as a result (from a worker
    process of --jobs too, by pickling), and the comparison raises it again to its own Ctrl-C
    handling; ``train.py`` prints ``message`` (None on a torchrun process other than the first) and
    exits with ``EXIT_ABORTED``; ``--seeds`` words its own line from ``iteration`` (None before the
    run began) and ``checkpoint`` (the last one to continue from, or None). The last checkpoint
    is whole: checkpoints are written to a temporary file and renamed into place."""

    def __init__(self, trainer):
        super().__init__()
        self.built = trainer is not None  # False: stopped while the settings or data loaded
        self.main = self.built and trainer.main
        self.iteration = trainer.iteration if self.main and trainer.run_dir else None
        self.checkpoint = trainer.last_good() if self.main else None

    def __reduce__(self):  # a worker process of --jobs hands it back to the parent as a value
        # (without this, unpickling calls RunAborted() without its trainer and fails)
        return _aborted, (self.built, self.main, self.iteration, self.checkpoint)

    @property
    def message(self) -> str | None:
        """The line for ``train.py``: the iteration reached and what is left to continue from."""
        if not self.built:
            return "aborted before training began; nothing was written. Run the command again."
        if not self.main:
            return None
        where = f" at iteration {self.iteration}" if self.iteration is not None \
            else " before it began"
        return (f"aborted{where}, without the final evaluation and checkpoint. "
                + (f"The last checkpoint is {self.checkpoint}; continue from it with "
                   f"--resume=auto." if self.checkpoint
                   else "There is no checkpoint to continue from: run the command again."))


class RunPreempted(SystemExit):
    """SIGTERM stopped ``train`` after its final evaluation and checkpoint (``run_dir``; its
    ``END_FILE`` says ``"stopped_by": "SIGTERM"``). A ``SystemExit`` with ``EXIT_PREEMPTED``, so a
    caller that lets it pass exits with the status a scheduler requeues on; each caller words
    how to go on: ``train.py`` (``--resume=auto``), ``--seeds`` (``--seed=k --resume=auto``),
    the comparison (the same command again). ``run_dir`` is None when SIGTERM came while a
    ``--jobs`` worker loaded the data, before the run began."""

    def __init__(self, run_dir: str | None):
        super().__init__(EXIT_PREEMPTED)
        self.run_dir = run_dir


def _aborted(built, main, iteration, checkpoint) -> RunAborted:
    e = RunAborted(None)
    e.built, e.main, e.iteration, e.checkpoint = built, main, iteration, checkpoint
    return e


def _same_settings(a: dict, b: dict) -> bool:
    """Whether two resolved configs compute the same run (where and how long may differ)."""
    skip = RESUME_KEYS | {"resume"}
    return {k: v for k, v in a.items() if k not in skip} == \
        {k: v for k, v in b.items() if k not in skip}


def auto_resume(dataset_dir: str, cfg) -> str | None:
    """``--resume=auto``: the newest checkpoint of the newest run folder in ``cfg.out`` whose
    settings (its config.yml) are ``cfg``'s, up to the keys a resume may change; None when
    there is none (the run starts fresh)."""
    out = cfg.out if os.path.isabs(cfg.out) else os.path.join(dataset_dir, cfg.out)
    want = cfg.to_dict()
    for run in reversed(list_runs(out)):
        ckpts = list_checkpoints(run)
        path = os.path.join(run, "config.yml")
        if not ckpts or not os.path.isfile(path):
            continue
        if _same_settings(validate(stored(read_yaml(path)), source=path).to_dict(), want):
            return ckpts[-1]
    return None


def train(dataset_dir: str, argv: list) -> str:
    """Train in ``dataset_dir`` (which holds param.yml and models.py) with the ``--key=value``
    settings of ``argv``. Returns the run folder. ``--resume=auto`` continues the newest
    checkpoint of the same settings, or starts fresh. A run stopped by SIGTERM exits with
    status ``EXIT_PREEMPTED`` once its checkpoint is written (``RunPreempted``); a Ctrl-C that
    aborts it raises ``RunAborted``. Bad input raises ``UserError`` (``train.py`` prints each in
    one line: ``codegan.training.cli``)."""
    dataset_dir = os.path.abspath(dataset_dir)
    overrides = parse_overrides(argv)
    cfg_path = config_path(dataset_dir, overrides)
    resume = overrides.pop("resume", None)
    if resume == "auto":
        resume = auto_resume(dataset_dir, load_config(cfg_path, overrides))
        print(f"--resume=auto: continuing {resume}" if resume else
              "--resume=auto: no checkpoint of these settings yet; starting a new run")
        if resume:  # the settings that name the run are the checkpoint's already
            overrides = {k: v for k, v in overrides.items() if k in RESUME_KEYS}
    if resume:
        bad = sorted(set(overrides) - RESUME_KEYS)
        if bad:
            raise UserError(f"--{bad[0]} cannot change when resuming (it would change what the "
                            f"run computes). Only {', '.join(sorted(RESUME_KEYS))} may; start "
                            f"a new run for other settings.")
    trainer = None
    try:  # a Ctrl-C while the data loads, or a second one during the run
        if resume:
            trainer = Trainer(load_config(cfg_path), dataset_dir, resume=resume,
                              resume_overrides=overrides)
        else:
            trainer = Trainer(load_config(cfg_path, overrides), dataset_dir)
        run_dir = trainer.run()
    except KeyboardInterrupt:
        raise RunAborted(trainer) from None
    if not trainer.main:  # another process of a torchrun run wrote the folder
        return run_dir
    if trainer.stopped_by == "SIGTERM":
        raise RunPreempted(run_dir)
    print(f"done: {run_dir}")
    return run_dir
