"""Complete, atomically written snapshots: every network, optimiser, RNG state and the data
stream position, plus the resolved config, so a run resumes exactly where it stopped.

Files are written to ``<name>.tmp`` and renamed into place, so a run killed while saving leaves
the previous checkpoint intact and never a half-written file under a checkpoint's name.
"""

from __future__ import annotations

import glob
import os

import torch

from .errors import UserError

FORMAT = "codegan-checkpoint"
VERSION = 1


def checkpoint_name(iteration: int) -> str:
    return f"ckpt-{iteration:08d}.pt"


def save_checkpoint(path: str, state: dict) -> None:
    """Write ``state`` (plus format tags) to ``path`` atomically. Refuses to overwrite."""
    if os.path.exists(path):
        raise UserError(f"{path} exists already; checkpoints are never overwritten.")
    tmp = path + ".tmp"
    try:
        torch.save({"format": FORMAT, "version": VERSION, **state}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_torch_file(path: str, missing: str, unreadable: str, map_location="cpu"):
    """``torch.load`` (weights only) with the caller's messages for a missing file and an
    unreadable one (truncated zip, random bytes, a pickle of something else). ``unreadable``
    gets what went wrong in brackets: in place of ``{error}`` if it has one, else at its end."""
    if not path or not os.path.isfile(path):
        raise UserError(missing)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        err = type(e).__name__
        if str(e).strip():
            err += ": " + str(e).strip().splitlines()[0][:200]
        if "{error}" in unreadable:
            raise UserError(unreadable.replace("{error}", err)) from None
        raise UserError(f"{unreadable} ({err}).") from None


def load_checkpoint(path: str, map_location="cpu") -> dict:
    """Read a checkpoint, with one clear message for a missing, corrupt or foreign file."""
    ckpt = read_torch_file(
        path, f"checkpoint {path} not found. Give --checkpoint=PATH (or --resume=PATH) to a file "
              f"in a run's checkpoints/ folder.",
        f"{path} is not a readable checkpoint (corrupt or truncated: {{error}}). Use another one "
        f"from the run's checkpoints/ folder.", map_location)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{path} is not a CoDeGAN checkpoint of this project (no "
                        f"'{FORMAT}' tag). Give a file written by train.py.")
    if ckpt.get("version") != VERSION:
        raise UserError(f"{path} has checkpoint version {ckpt.get('version')}, this code reads "
                        f"version {VERSION}.")
    return ckpt


def list_checkpoints(run_dir: str) -> list:
    """The run's checkpoints, oldest first."""
    return sorted(glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.pt")))

