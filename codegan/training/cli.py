"""The commands behind each dataset folder's ``train.py`` and ``test.py``.

    python train.py [--key=value ...] [--config=FILE] [--resume=CHECKPOINT|auto]
    python train.py --seeds=0,1,2 [--jobs=N] [--key=value ...]
    python test.py  [--checkpoint=PATH] [--data_root=DIR] [--device=cpu] [--kmeans_runs=N]
"""

from __future__ import annotations

import json
import os
import sys

from ..checkpoint import list_checkpoints
from ..config import load_config, parse_overrides, read_yaml, validate
from ..data.datasets import load_images
from ..device import pick_device
from ..errors import UserError, cli_guard
from ..evaluation.evaluate import evaluate, format_table
from ..evaluation.sampling import load_nets
from .loop import Trainer
from .runs import latest_checkpoint, list_runs

# what may change when a run is resumed: where and how long, never what is computed
RESUME_KEYS = {"max_step", "max_iters", "out", "device", "data_root", "test_step", "save_step",
               "test_iters", "save_iters", "keep_checkpoints", "progress", "mode",
               "num_threads"}
TEST_KEYS = {"checkpoint", "data_root", "device", "kmeans_runs", "eval_batch_size",
             "g_eval_per_class", "g_eval_assign", "g_eval_features", "classifier_arch",
             "classifier_path"}  # the last five: G-based


def _config_path(dataset_dir: str, overrides: dict) -> str:
    path = overrides.pop("config", None)
    return os.path.abspath(path) if path else os.path.join(dataset_dir, "param.yml")


# exit status of a run stopped by SIGTERM after its checkpoint (a requeued job resumes it with
# --resume=auto); 128 + 15, what a shell reports for a process ended by SIGTERM
EXIT_PREEMPTED = 143


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
        if _same_settings(validate(read_yaml(path), source=path).to_dict(), want):
            return ckpts[-1]
    return None


@cli_guard
def train_main(dataset_dir: str, argv: list) -> str:
    """Train in ``dataset_dir`` (which holds param.yml and models.py). Returns the run folder.
    ``--resume=auto`` continues the newest checkpoint of the same settings, or starts fresh.
    A run stopped by SIGTERM exits with status ``EXIT_PREEMPTED`` once its checkpoint is
    written."""
    dataset_dir = os.path.abspath(dataset_dir)
    overrides = parse_overrides(argv)
    if "seeds" in overrides or "jobs" in overrides:
        return _train_seeds(dataset_dir, argv, overrides)
    cfg_path = _config_path(dataset_dir, overrides)
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
        base = load_config(cfg_path)
        trainer = Trainer(base, dataset_dir, resume=resume, resume_overrides=overrides)
    else:
        trainer = Trainer(load_config(cfg_path, overrides), dataset_dir)
    run_dir = trainer.run()
    if not trainer.main:  # another process of a torchrun run wrote the folder
        return run_dir
    if trainer.stopped_by == "SIGTERM":
        print(f"stopped by SIGTERM with a checkpoint in {run_dir}; continue with --resume=auto",
              file=sys.stderr)
        sys.exit(EXIT_PREEMPTED)
    print(f"done: {run_dir}")
    return run_dir


def _train_seeds(dataset_dir: str, argv: list, overrides: dict) -> list:
    """``--seeds=0,1,2 [--jobs=N]``: one run per seed (``codegan.training.seeds``). Returns the
    run folders."""
    from .seeds import parse_seeds, run_seeds

    if "seeds" not in overrides:
        raise UserError("--jobs goes with --seeds (e.g. --seeds=0,1,2 --jobs=3).")
    for key in ("seed", "resume"):
        if key in overrides:
            raise UserError(f"--{key} cannot go with --seeds: --seeds sets each run's seed and "
                            f"starts new runs.")
    seeds = parse_seeds(overrides["seeds"])
    jobs = overrides.get("jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int):
        raise UserError(f"--jobs={jobs!r}: give a whole number of parallel runs.")
    rest = [a for a in argv if a.split("=", 1)[0] not in ("--seeds", "--jobs")]
    early = parse_overrides(rest)  # bad settings stop here, before any process starts
    load_config(_config_path(dataset_dir, early), early)
    return run_seeds(dataset_dir, rest, seeds, jobs)


def _results_path(ckpt_path: str) -> str:
    stem = os.path.splitext(ckpt_path)[0]
    path, n = f"{stem}.results.json", 1
    while os.path.exists(path):  # never overwrite an earlier evaluation
        path, n = f"{stem}.results-{n}.json", n + 1
    return path


@cli_guard
def test_main(dataset_dir: str, argv: list) -> dict:
    """Evaluate a checkpoint with the dataset's protocol; print a table, write results JSON."""
    dataset_dir = os.path.abspath(dataset_dir)
    opts = parse_overrides(argv)
    bad = sorted(set(opts) - TEST_KEYS)
    if bad:
        raise UserError(f"unknown option --{bad[0]} for test.py; it takes "
                        f"{', '.join('--' + k for k in sorted(TEST_KEYS))}.")
    folder_cfg = read_yaml(os.path.join(dataset_dir, "param.yml"))
    ckpt = opts.pop("checkpoint", None)
    if not ckpt:
        out = folder_cfg.get("out", "runs")
        ckpt = latest_checkpoint(out if os.path.isabs(out) else os.path.join(dataset_dir, out))
    device = opts.get("device", "auto")
    nets, cfg, state = load_nets(ckpt, device=device)
    if cfg.dataset != folder_cfg.get("dataset"):
        raise UserError(f"{ckpt} is a {cfg.dataset} checkpoint; this folder evaluates "
                        f"{folder_cfg.get('dataset')}. Run test.py in its own folder.")
    cfg = validate({**cfg.to_dict(), **opts}, source="test.py options")
    dev = pick_device(cfg.device)
    data = {}
    if cfg.eval_protocol == "e-based":
        data["test_x"], data["test_y"] = load_images(cfg.dataset, cfg.data_root, "test")
    res = evaluate(nets, cfg, data, dev)
    res = {"checkpoint": os.path.abspath(ckpt), "iteration": state["iteration"], **res}
    print(f"{res['protocol']}\ncheckpoint {ckpt} (iteration {state['iteration']})")
    print(format_table(res))
    path = _results_path(ckpt)
    with open(path, "x") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {path}")
    return res
