"""Which journal line each settlement fault picks, and the journal as the processor
settles it once every fault is applied. Each sandbox supplies how to read a line's
(payment reference, operation) and how to alter and copy one of its lines."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from basketpay.invariant import invariant
from basketpay.sandboxes.settlement_faults.parsing import SettlementFault

__all__ = ["Alteration", "LineKey", "alterations", "apply_faults", "derived_id"]

LineKey = tuple[str, str]  # (payment reference, operation)
Line = TypeVar("Line")


@dataclass(frozen=True, slots=True)
class Alteration:
    """What the faults that pick one line do to it, combined."""

    dropped: bool = False
    gross_delta_minor: int = 0
    extra_fee_minor: int = 0
    duplicates: int = 0
    days_late: int = 0


def alterations(keys: Sequence[LineKey | None], faults: Sequence[SettlementFault]) -> dict[int, Alteration]:
    """By journal index: how each line picked by a fault changes. `keys[i]` is line i's
    (payment reference, operation), None for a line no fault can pick (an Adyen Fee row)."""
    first: dict[LineKey, int] = {}
    for index, key in enumerate(keys):
        if key is not None:
            first.setdefault(key, index)
    changes: dict[int, Alteration] = {}
    for fault in faults:
        picked = first.get((fault.reference, fault.operation))
        if picked is None:
            continue
        change = changes.get(picked, Alteration())
        changes[picked] = replace(
            change, dropped=change.dropped or fault.kind == "drop",
            gross_delta_minor=change.gross_delta_minor + fault.delta_minor,
            extra_fee_minor=change.extra_fee_minor + fault.extra_fee_minor,
            duplicates=change.duplicates + int(fault.kind == "duplicate"), days_late=change.days_late + fault.days)
    return changes


def derived_id(original: str, copy_number: int) -> str:
    """A stable hex id for copy `copy_number` of a line: the same journal gives the same files."""
    return hashlib.sha256(f"{original}:duplicate:{copy_number}".encode()).hexdigest()


def apply_faults(journal: Sequence[Line], faults: Sequence[SettlementFault], key: Callable[[Line], LineKey | None],
                 alter: Callable[[Line, Alteration], Line], duplicate: Callable[[Line, int], Line]) -> list[Line]:
    """The journal's lines as the processor settles them: `alter` applies an Alteration's
    amounts and lateness to a line, `duplicate` gives copy N of an altered line a new id."""
    changes = alterations([key(line) for line in journal], faults)
    settled: list[Line] = []
    for index, line in enumerate(journal):
        change = changes.get(index)
        if change is None:
            settled.append(line)
        elif not change.dropped:
            altered = alter(line, change)
            settled += [altered, *(duplicate(altered, number) for number in range(1, change.duplicates + 1))]
    expected = len(journal) + sum(-1 if c.dropped else c.duplicates for c in changes.values())
    invariant(len(settled) == expected, "each line is settled once, less drops, plus duplicates")
    return settled
