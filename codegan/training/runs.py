"""Numbered run folders (``runs/00000-mnist-unsupervised``): one per run, never reused."""

from __future__ import annotations

import json
import os
import re

from ..checkpoint import list_checkpoints
from ..errors import UserError

_RUN = re.compile(r"^(\d{5,})-")
END_FILE = "end.json"  # a run folder's record of how its run ended, written as it ends


def list_runs(out_dir: str) -> list:
    """Run folders in ``out_dir``, in number order."""
    if not os.path.isdir(out_dir):
        return []
    runs = [(int(m.group(1)), d) for d in os.listdir(out_dir)
            if (m := _RUN.match(d)) and os.path.isdir(os.path.join(out_dir, d))]
    return [os.path.join(out_dir, d) for _, d in sorted(runs)]


def new_run_dir(out_dir: str, name: str) -> str:
    """Create ``out_dir/<next number>-<name>`` and its sub-folders; never an existing folder."""
    os.makedirs(out_dir, exist_ok=True)
    runs = list_runs(out_dir)
    nxt = int(_RUN.match(os.path.basename(runs[-1])).group(1)) + 1 if runs else 0
    while True:
        path = os.path.join(out_dir, f"{nxt:05d}-{name}")
        try:
            os.makedirs(path)  # fails if a concurrent run took this number: take the next one
            break
        except FileExistsError:
            nxt += 1
    for sub in ("checkpoints", "samples"):
        os.makedirs(os.path.join(path, sub))
    return path


def latest_checkpoint(out_dir: str) -> str:
    """The newest checkpoint of the newest run folder (numbered ``NNNNN-*``) in ``out_dir``."""
    for run in reversed(list_runs(out_dir)):
        ckpts = list_checkpoints(run)
        if ckpts:
            return ckpts[-1]
    raise UserError(f"no checkpoint found under {out_dir}. Train first (python train.py) or "
                    f"give --checkpoint=PATH.")


def run_end(run_dir: str) -> dict | None:
    """How a run ended, from its ``END_FILE``: ``{"iteration", "interrupted", "stopped_by"}``
    (``stopped_by``: 'SIGINT', 'SIGTERM' or None); None when the run has not ended (still
    running, or killed before its final checkpoint)."""
    path = os.path.join(run_dir, END_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def checkpoint_iteration(path: str) -> int:
    """The iteration in a checkpoint's name (``ckpt-00002000.pt`` -> 2000), without loading it."""
    m = re.match(r"^ckpt-(\d+)\.pt$", os.path.basename(path))
    if not m:
        raise UserError(f"{path} is not named like a checkpoint (ckpt-<iteration>.pt).")
    return int(m.group(1))


def resume_chain(out_dir: str) -> list:
    """The runs of ``out_dir`` that together made its newest checkpoint, oldest first.

    ``--resume`` continues a run in a new run folder, so one training history can span several
    folders: the newest run holding a checkpoint, the run its ``config.yml``'s ``resume`` names,
    and so on back. Returns ``[(run_dir, until), ...]``: ``until`` is the iteration of the
    checkpoint the next run resumed from (that run's records after it were recomputed by the
    next one and belong to no history), ``None`` for the newest. ``[]`` when ``out_dir`` holds no
    checkpoint. A ``resume`` path is matched by its run folder's name inside ``out_dir``, so the
    chain survives a moved folder; a chain whose start is elsewhere ends at the first run here.
    """
    import yaml

    runs = list_runs(out_dir)
    by_name = {os.path.basename(r): r for r in runs}
    newest = next((r for r in reversed(runs) if list_checkpoints(r)), None)
    chain, until = [], None
    while newest is not None and all(newest != r for r, _ in chain):  # a loop would be a bug
        chain.insert(0, (newest, until))
        cfg_path = os.path.join(newest, "config.yml")
        resume = None
        if os.path.isfile(cfg_path):
            with open(cfg_path) as f:
                resume = (yaml.safe_load(f) or {}).get("resume")
        if not resume:
            break
        until = checkpoint_iteration(resume)
        newest = by_name.get(os.path.basename(os.path.dirname(os.path.dirname(resume))))
    return chain
