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


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bfloat16 natively (``avx512_bf16`` or ``amx_bf16`` among the
    flags of ``cpuinfo``); False where that cannot be read. Without them CPU autocast emulates
    bfloat16 and runs many times slower than float32."""
    try:
        with open(cpuinfo) as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def precision_note(device: torch.device, precision: str, native_bf16: bool | None = None):
    """One log line on the CPU where ``precision`` is the slow choice of the two on this CPU
    (measured in bench/SPEED.md), else None. ``native_bf16``: ``cpu_has_native_bf16()`` when
    None."""
    if device.type != "cpu":
        return None
    native = cpu_has_native_bf16() if native_bf16 is None else native_bf16
    if precision == "bf16" and not native:
        return ("precision bf16: this CPU has no native bfloat16 (avx512_bf16 / amx_bf16), so "
                "autocast emulates it, about 25x slower than float32 (bench/SPEED.md); "
                "--precision=float32 is faster here")
    if precision == "float32" and native:
        return ("this CPU has native bfloat16 (avx512_bf16): --precision=bf16 trained 1.8x "
                "faster at the Fashion-MNIST settings (bench/SPEED.md, with its scores against "
                "float32's)")
    return None
