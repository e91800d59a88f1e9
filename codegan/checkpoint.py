"""Complete, atomically written snapshots: every network, optimiser, RNG state and the data
stream position, plus the resolved config, so a run resumes exactly where it stopped.

Files are written to ``.tmp-<name>`` and renamed into place (``codegan.errors.write_file``), so
a run killed while saving, or one whose disk fills up, leaves the previous checkpoint intact and
never a half-written file under a checkpoint's name.
"""

from __future__ import annotations

import glob
import os

import torch

from .errors import UserError, write_file

FORMAT = "codegan-checkpoint"
VERSION = 1


def checkpoint_name(iteration: int) -> str:
    return f"ckpt-{iteration:08d}.pt"


def save_checkpoint(path: str, state: dict) -> None:
    """Write ``state`` (plus format tags) to ``path`` atomically. Refuses to overwrite; a disk
    that is full or not writable raises ``WriteFailed`` (``codegan.errors.write_file``)."""
    if os.path.exists(path):
        raise UserError(f"{path} exists already; checkpoints are never overwritten.")
    write_file(path, lambda tmp: torch.save({"format": FORMAT, "version": VERSION, **state}, tmp))


def read_torch_file(path: str, missing: str, unreadable: str, map_location="cpu",
                    mmap: bool = False):
    """``torch.load`` (weights only) with the caller's messages for a missing file and an
    unreadable one (truncated zip, random bytes, a pickle of something else). ``unreadable``
    gets what went wrong in brackets: in place of ``{error}`` if it has one, else at its end."""
    if not path or not os.path.isfile(path):
        raise UserError(missing)
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:
        err = type(e).__name__
        if str(e).strip():
            err += ": " + str(e).strip().splitlines()[0][:200]
        if "{error}" in unreadable:
            raise UserError(unreadable.replace("{error}", err)) from None
        raise UserError(f"{unreadable} ({err}).") from None


def load_encoder_file(module, path: str, dataset: str, missing: str, kind: str | None = None,
                      kind_fix: str = "") -> dict:
    """Load a pre-trained encoder file (written by a folder's pretrain.py / meta_pretrain.py:
    ``{"state_dict", "dataset", "kind", ...}``) into ``module``; one ``UserError`` naming the
    problem for a missing or unreadable file (``missing``: the message), another dataset, another
    pre-training ``kind`` than the one asked for (``kind_fix``: how to make the right one), or
    another architecture. Returns the file's contents."""
    blob = read_torch_file(path, missing, f"{path} is not a readable weights file")
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise UserError(f"{path} is not a pre-trained encoder file of this project.")
    if blob.get("dataset") != dataset:
        raise UserError(f"{path} was pre-trained on {blob.get('dataset')}, not {dataset}.")
    if kind is not None and blob.get("kind") != kind:
        raise UserError(f"{path} was pre-trained with {blob.get('kind')}, not {kind}; "
                        f"{kind_fix}")
    try:
        module.load_state_dict(blob["state_dict"])
    except RuntimeError as e:
        raise UserError(f"{path} does not fit this folder's E_c architecture: "
                        f"{str(e).splitlines()[0]}") from None
    return blob


def load_checkpoint(path: str, map_location="cpu", mmap: bool = False) -> dict:
    """Read a checkpoint, with one clear message for a missing, corrupt or foreign file.
    ``mmap``: tensors are mapped from the file, read only when touched (for a look at the
    config and counters without reading the weights)."""
    ckpt = read_torch_file(
        path, f"checkpoint {path} not found. Give --checkpoint=PATH (or --resume=PATH) to a file "
              f"in a run's checkpoints/ folder.",
        f"{path} is not a readable checkpoint (corrupt or truncated: {{error}}). Use another one "
        f"from the run's checkpoints/ folder.", map_location, mmap)
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

