"""Which arm of an experiment a unit (a customer or an order) is in: a pure function of the
experiment id and the unit, the same in every process and on every machine.

The unit and the experiment id are hashed together with SHA-256 (never Python's `hash()`,
which is salted per process) into a bucket in [0, 10000); each arm owns a run of buckets as
wide as its share in basis points. A new experiment id reshuffles every unit, so one
experiment's arms do not carry over into the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from basketpay.invariant import InvariantViolation

__all__ = ["BASIS_POINTS", "Arm", "assign", "bucket", "check_arms"]

BASIS_POINTS = 10_000


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm of an experiment and the share of units it gets, in basis points (0..10000)."""

    name: str
    share: int

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an arm needs a name")
        if not 0 <= self.share <= BASIS_POINTS:
            raise ValueError(f"arm {self.name!r}: share {self.share} is outside 0..{BASIS_POINTS} basis points")


def check_arms(arms: Sequence[Arm]) -> None:
    """Refuse a split that could not assign every unit to exactly one named arm."""
    names = [arm.name for arm in arms]
    if len(set(names)) != len(names):
        raise ValueError(f"arm names must be unique, got {names}")
    total = sum(arm.share for arm in arms)
    if total != BASIS_POINTS:
        raise ValueError(f"arm shares must sum to {BASIS_POINTS} basis points, got {total}")


def bucket(experiment_id: str, unit: str) -> int:
    """The unit's bucket in [0, 10000) for this experiment."""
    if not experiment_id or not unit:
        raise ValueError("an experiment id and a stable, non-empty unit (customer or order id) are needed")
    # The length prefix keeps ("ab", "c") and ("a", "bc") apart.
    digest = hashlib.sha256(f"{len(experiment_id)}:{experiment_id}:{unit}".encode()).digest()
    # 2**256 is not a multiple of 10000, but the bias is below 10**-70: immaterial.
    return int.from_bytes(digest, "big") % BASIS_POINTS


def assign(experiment_id: str, unit: str, arms: Sequence[Arm]) -> str:
    """The name of the arm `unit` is in: the same answer for the same inputs, always."""
    check_arms(arms)
    position = bucket(experiment_id, unit)
    boundary = 0
    for arm in arms:
        boundary += arm.share
        if position < boundary:
            return arm.name
    raise InvariantViolation(f"bucket {position} is past the last arm although the shares sum to {BASIS_POINTS}")
