"""How a setting is declared: its type, default, meaning and check. ``codegan.config.SCHEMA``
declares the shared settings; each method (``codegan.methods``) declares its own beside its
maths (``Method.settings``), so this module sits below both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Key:
    type: str  # 'int', 'float', 'bool', 'str', 'floats' / 'ints' / 'strs' (lists)
    default: Any
    doc: str
    check: Callable[[Any], bool] | None = None  # value -> ok
    need: str = ""  # what the check requires, for the message
    optional: bool = False  # None ("null") allowed
    length: int | None = None  # for 'floats'
    choices: tuple | None = None


def pos(v):
    return v > 0


def nonneg(v):
    return v >= 0


def unit(v):
    return 0 <= v < 1
