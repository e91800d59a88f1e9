"""The commands behind each dataset folder's ``train.py`` and ``test.py``.

    python train.py [--key=value ...] [--config=FILE] [--resume=CHECKPOINT|auto]
    python train.py --seeds=0,1,2 [--jobs=N] [--key=value ...]
    python test.py  [--checkpoint=PATH] [--data_root=DIR] [--device=cpu] [--kmeans_runs=N]
"""

from __future__ import annotations

import json
import os
import sys

from ..config import keys_of_roles, load_config, parse_overrides, read_yaml, validate
from ..data.datasets import load_images
from ..device import pick_device
from ..errors import UserError, cli_guard, write_text
from ..evaluation.evaluate import evaluate, format_table
from ..evaluation.sampling import load_nets
from .runs import latest_checkpoint
from .train import (EXIT_ABORTED, EXIT_PREEMPTED, RESUME_KEYS, RunAborted, RunPreempted,
                    config_path, train)

__all__ = ["train_main", "test_main", "EXIT_PREEMPTED", "RESUME_KEYS"]

# test.py's settings: the checkpoint, where it runs, and every key declared as scoring a
# checkpoint (role "evaluation": k-means runs, batches, the G-based classifier, Mathieu16's probes)
TEST_KEYS = {"checkpoint", "data_root", "device"} | keys_of_roles("evaluation")
# dSprites only (ground-truth factors): the disentanglement metrics (codegan.evaluation.disentangle)
METRIC_KEYS = {"metrics", "represent", "metric_n", "metric_groups", "metric_group_size",
               "metric_seed", "traversal",  # traversal: codegan.evaluation.traversal's figures
               "shape_is", "shape_is_n", "shape_classifier"}  # codegan.evaluation.dsprites_is


@cli_guard
def train_main(dataset_dir: str, argv: list):
    """``train.py``: one run (``codegan.training.train.train``; returns its folder), or with
    ``--seeds=0,1,2 [--jobs=N]`` one run per seed (``codegan.training.seeds``; returns the
    folders)."""
    dataset_dir = os.path.abspath(dataset_dir)
    overrides = parse_overrides(argv)
    if "seeds" in overrides or "jobs" in overrides:
        return _train_seeds(dataset_dir, argv, overrides)
    try:
        return train(dataset_dir, argv)
    except RunAborted as e:  # one line naming what to continue from, not a traceback
        if e.message:
            print(f"\n{e.message}", file=sys.stderr)
        sys.exit(EXIT_ABORTED)
    except RunPreempted as e:  # the requeued job runs the same command with --resume=auto
        print(f"stopped by SIGTERM with a checkpoint in {e.run_dir}; continue with "
              f"--resume=auto", file=sys.stderr)
        raise


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
    load_config(config_path(dataset_dir, early), early)
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
    folder_cfg = read_yaml(os.path.join(dataset_dir, "param.yml"))
    allowed = TEST_KEYS | (METRIC_KEYS if folder_cfg.get("dataset") == "dsprites" else set())
    bad = sorted(set(opts) - allowed)
    if bad:
        raise UserError(f"unknown option --{bad[0]} for test.py; it takes "
                        f"{', '.join('--' + k for k in sorted(allowed))}.")
    metric_opts = {k: opts.pop(k) for k in METRIC_KEYS if k in opts}
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
    if cfg.dataset == "dsprites":  # the options checked before minutes of scoring, not after
        traversal = metric_opts.pop("traversal", False)
        shape_is = metric_opts.pop("shape_is", False)
        for key, v in (("traversal", traversal), ("shape_is", shape_is)):
            if not isinstance(v, bool):
                raise UserError(f"--{key}={v!r}: give true or false.")
        stray = [k for k in ("shape_is_n", "shape_classifier") if k in metric_opts]
        if stray and not shape_is:  # a setting of a score not asked for is a mistake, say so
            raise UserError(f"--{stray[0]} sets the dSprites inception score; add "
                            f"--shape_is=true to compute it.")
    dev = pick_device(cfg.device)
    data = {}
    if cfg.eval_protocol == "e-based" and cfg.zc_dim:  # zc_dim 0: nothing to cluster
        data["test_x"], data["test_y"] = load_images(cfg.dataset, cfg.data_root, "test", cfg)
    res = evaluate(nets, cfg, data, dev)
    res = {"checkpoint": os.path.abspath(ckpt), "iteration": state["iteration"], **res}
    print(f"{res['protocol']}\ncheckpoint {ckpt} (iteration {state['iteration']})")
    print(format_table(res))
    if cfg.dataset == "dsprites":
        res["disentanglement"] = _disentanglement(nets, cfg, dev, metric_opts)
        if shape_is:  # InfoGAN-CR's dSprites inception score of G's prior samples
            res["shape_is"] = _shape_is(ckpt, cfg, dev, metric_opts, dataset_dir)
        if traversal:  # latent traversal (and the class-code grid), beside the checkpoint
            from ..evaluation.traversal import write_figures

            res["figures"] = write_figures(ckpt, device=str(dev))
            print("figures: " + ", ".join(v for k, v in res["figures"].items()
                                          if k in ("traversal", "classgrid")))
    path = _results_path(ckpt)
    write_text(path, json.dumps(res, indent=1), exclusive=True)  # never replaces a result
    print(f"wrote {path}")
    return res


def _shape_is(ckpt: str, cfg, device, opts: dict, dataset_dir: str) -> dict:
    """test.py on dSprites with ``--shape_is=true``: InfoGAN-CR's dSprites inception score
    (``codegan.evaluation.dsprites_is``) of ``--shape_is_n`` (default 50,000) prior samples of
    the checkpoint's G (its EMA weights when kept), by the shape classifier at
    ``--shape_classifier`` (default dSprites/pretrained/shape_classifier.pt; trained there first
    when missing, never overwritten); latents seeded by ``--metric_seed`` (default 0)."""
    from ..evaluation import dsprites_is as DI
    from ..evaluation.sampling import load_generator

    n = opts.get("shape_is_n", DI.N_SAMPLES)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UserError(f"--shape_is_n={n!r}: give a whole number of samples (> 0); the "
                        f"protocol uses {DI.N_SAMPLES}.")
    path = DI.classifier_path(dataset_dir, opts.get("shape_classifier"))
    model, record = DI.load_or_train(path, cfg.data_root, device, progress=cfg.progress)
    G, gcfg = load_generator(ckpt, device=str(device))
    res = DI.score_generator(G, gcfg, model, record, n, seed=opts.get("metric_seed") or 0,
                             batch=cfg.eval_batch_size, device=device)
    res["classifier"] = os.path.abspath(path)
    res["protocol"] = (f"InfoGAN-CR's dSprites inception score: the shape classifier {path} "
                       f"on {n} samples of G's prior")
    print(DI.format_scores(res))
    return res


def _disentanglement(nets, cfg, device, opts: dict) -> dict:
    """test.py on dSprites: the disentanglement metrics of the checkpoint's encoder
    (``codegan.evaluation.disentangle``), printed; ``--metrics=none`` skips them."""
    from ..evaluation.disentangle import format_scores, protocol_factors, score_all

    names = opts.get("metrics")
    if isinstance(names, str) and names.strip().lower() == "none":
        return {"skipped": "--metrics=none"}
    if isinstance(names, str):
        names = [m.strip() for m in names.split(",") if m.strip()]
    ints = {}
    for key in ("metric_n", "metric_groups", "metric_group_size", "metric_seed"):
        v = opts.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0 or
                              (v == 0 and key != "metric_seed")):
            raise UserError(f"--{key}={v!r}: give a whole number (> 0).")
        ints[key] = v
    factors, note = protocol_factors(cfg.data_root)
    scores = score_all(nets, cfg, device, factors, names, str(opts.get("represent", "zc")),
                       seed=ints["metric_seed"] or 0, n=ints["metric_n"],
                       n_groups=ints["metric_groups"], group_size=ints["metric_group_size"])
    scores["protocol"] += note
    print(scores["protocol"])
    print(format_scores(scores))
    return scores
