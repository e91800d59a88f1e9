"""The device a run uses, from the ``device`` setting."""

from __future__ import annotations

import torch

from .errors import UserError


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA when present, else the CPU; ``cpu``, ``cuda``, ``cuda:N`` as given (a
    ``UserError`` when CUDA is asked for but absent)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device '{name}' asked for, but CUDA is not available here; use "
                        f"--device=cpu or --device=auto.")
    return torch.device(name)
