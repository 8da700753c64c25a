"""The Adyen sandbox's journal as its settlement detail report shows it once the injected
settlement faults (sandboxes/settlement_faults) are applied: an extra fee is booked as
Commission, and a late line keeps its Creation Date and is booked N days later."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from basketpay.sandboxes.settlement_faults import Alteration, LineKey, SettlementFault, apply_faults, derived_id

if TYPE_CHECKING:
    from basketpay.sandboxes.adyen_api.settlement import JournalLine

__all__ = ["settled_lines"]

OPERATION_OF_TYPE = {"Settled": "charge", "Refunded": "refund"}  # Fee rows are no payment's charge or refund
MODIFICATION_REFERENCE_LENGTH = 16  # as a PSP reference


def _key(line: JournalLine) -> LineKey | None:
    operation = OPERATION_OF_TYPE.get(line.type)
    return (line.psp_reference, operation) if operation is not None else None


def _alter(line: JournalLine, change: Alteration) -> JournalLine:
    booked = line.created + dt.timedelta(days=change.days_late) if change.days_late else line.booked
    fees = replace(line.fees, commission=line.fees.commission + change.extra_fee_minor)
    return replace(line, gross=line.gross + change.gross_delta_minor, fees=fees, booked=booked)


def _duplicate(line: JournalLine, copy_number: int) -> JournalLine:
    reference = derived_id(line.modification_reference, copy_number)[:MODIFICATION_REFERENCE_LENGTH].upper()
    return replace(line, modification_reference=reference)


def settled_lines(journal: Sequence[JournalLine], faults: Sequence[SettlementFault]) -> list[JournalLine]:
    """The journal as settled: the lines themselves when no fault is set."""
    return apply_faults(journal, faults, _key, _alter, _duplicate) if faults else list(journal)
