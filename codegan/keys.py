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
    role: str = "maths"  # one of ROLES: what changing the key changes

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r} is not one of {', '.join(ROLES)}")


# What a setting is for, declared once per key; every list of keys that may differ somewhere is
# derived from it (keys_with_roles): what a resumed run may change (RESUMABLE), what may differ
# between the sittings of one comparison (codegan.compare), what test.py accepts.
ROLES = {
    "maths": "what the run computes; a resumed run and every sitting of a comparison keep it",
    "place": "where the run computes and writes, and how it reports progress",
    "budget": "how long the run trains",
    "files": "when checkpoints are written and how many are kept",
    "schedule": "when the run evaluates itself during training",
    "name": "the run folder's name",
    "evaluation": "how a checkpoint is scored (test.py may set it)",
}
RESUMABLE = ("place", "budget", "files", "schedule", "name")


def keys_with_roles(schema: dict, roles) -> set:
    """The keys of ``schema`` ({name: Key}) whose role is one of ``roles``."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return {k for k, key in schema.items() if key.role in roles}


def pos(v):
    return v > 0


def nonneg(v):
    return v >= 0


def unit(v):
    return 0 <= v < 1
