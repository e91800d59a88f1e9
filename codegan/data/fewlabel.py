"""Few-label mode: a class-balanced labelled subset of the real training set joins ``L_c``."""

from __future__ import annotations

import json
import os

import torch

from ..errors import UserError, write_text


def select_labelled(labels: torch.Tensor, n_labels: int, num_classes: int, seed: int):
    """Pick ``n_labels / num_classes`` training indices per class, reproducibly from ``seed``.
    Returns an int64 tensor (n_labels,), sorted by class then index."""
    per_class = n_labels // num_classes
    g = torch.Generator().manual_seed(seed)
    picked = []
    for k in range(num_classes):
        idx = torch.nonzero(labels == k).squeeze(1)
        if len(idx) < per_class:
            raise UserError(f"class {k} has only {len(idx)} training images; n_labels "
                            f"{n_labels} needs {per_class} per class.")
        picked.append(idx[torch.randperm(len(idx), generator=g)[:per_class]].sort().values)
    return torch.cat(picked)


def save_indices(path: str, idx: torch.Tensor, labels: torch.Tensor) -> None:
    write_text(path, json.dumps({"indices": idx.tolist(), "labels": labels[idx].tolist()}),
               exclusive=True)  # never overwrite an existing list


def load_indices(path: str, labels: torch.Tensor, num_classes: int,
                 n_labels: int | None = None) -> torch.Tensor:
    """Read a saved list, checking it against the training labels, class balance, duplicates
    and (when given) the expected size ``n_labels``. Returns int64 indices (n,)."""
    if not os.path.isfile(path):
        raise UserError(f"labels_file {path} not found; give a labelled_indices.json written by "
                        f"an earlier run, or leave labels_file unset to draw a new subset.")
    try:
        with open(path) as f:
            data = json.load(f)
        idx = torch.tensor(data["indices"], dtype=torch.int64)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a labelled-indices file ({e}).") from None
    if len(idx) == 0 or idx.min() < 0 or idx.max() >= len(labels):
        raise UserError(f"{path} holds indices outside the training set (0..{len(labels) - 1}).")
    if "labels" in data and data["labels"] != labels[idx].tolist():
        raise UserError(f"{path} was saved for another dataset: its labels do not match.")
    if len(torch.unique(idx)) != len(idx):
        raise UserError(f"{path} lists some training images twice; give a list of distinct "
                        f"indices (a labelled_indices.json written by a run).")
    counts = torch.bincount(labels[idx], minlength=num_classes)
    if counts.min() != counts.max():
        raise UserError(f"{path} is not class-balanced (per-class counts {counts.tolist()}).")
    if n_labels is not None and len(idx) != n_labels:
        raise UserError(f"{path} holds {len(idx)} labelled images but n_labels is {n_labels}; "
                        f"set n_labels: {len(idx)} or give another labels_file.")
    return idx


class LabelledBatches:
    """Class-balanced batches from the labelled subset: each batch has ``batch_size /
    num_classes`` images of every class, drawn without replacement within the class (global
    torch RNG, so checkpoints resume exactly)."""

    def __init__(self, x: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor,
                 num_classes: int, batch_size: int):
        self.x = x
        self.per_class = batch_size // num_classes
        self.by_class = [idx[labels[idx] == k] for k in range(num_classes)]
        self.num_classes = num_classes
        fewest = min(len(c) for c in self.by_class)
        if self.per_class * num_classes != batch_size or self.per_class > fewest:
            raise UserError(f"a class-balanced labelled batch of {batch_size} needs "
                            f"{batch_size / num_classes:g} images of each of the {num_classes} "
                            f"classes, but the labelled subset has {fewest} per class; set "
                            f"r_batch_size to a multiple of {num_classes} of at most "
                            f"{fewest * num_classes}.")

    def next(self):
        """Returns uint8 images (batch_size, C, H, W) and int64 labels (batch_size,)."""
        picks = [cls[torch.randperm(len(cls))[:self.per_class]] for cls in self.by_class]
        idx = torch.cat(picks)
        y = torch.arange(self.num_classes).repeat_interleave(self.per_class)
        return self.x[idx.to(self.x.device)], y.to(self.x.device)
