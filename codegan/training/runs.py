"""Numbered run folders (``runs/00000-mnist-unsupervised``): one per run, never reused."""

from __future__ import annotations

import os
import re

from ..checkpoint import list_checkpoints
from ..errors import UserError

_RUN = re.compile(r"^(\d{5,})-")


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
