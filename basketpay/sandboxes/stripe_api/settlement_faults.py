"""The Stripe sandbox's balance transactions as its settlement files show them once the
injected settlement faults (sandboxes/settlement_faults) are applied. A late line keeps
its `created` and becomes available, so paid out, N days later."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from basketpay.ids import ID_RANDOM_LENGTH
from basketpay.sandboxes.settlement_faults import OPERATIONS, Alteration, LineKey, SettlementFault, apply_faults
from basketpay.sandboxes.settlement_faults import derived_id as derived_hex

if TYPE_CHECKING:
    from basketpay.sandboxes.stripe_api.settlement import BalanceTransaction

__all__ = ["settled_lines"]

SECONDS_PER_DAY = 86_400


def _key(line: BalanceTransaction) -> LineKey | None:
    category = line.reporting_category
    return (line.payment_intent_id, category) if category in OPERATIONS else None


def _alter(line: BalanceTransaction, change: Alteration) -> BalanceTransaction:
    available_on = line.created + change.days_late * SECONDS_PER_DAY if change.days_late else line.available_on
    return replace(line, gross=line.gross + change.gross_delta_minor, fee=line.fee + change.extra_fee_minor,
                   available_on=available_on)


def _duplicate(line: BalanceTransaction, copy_number: int) -> BalanceTransaction:
    return replace(line, id="txn_" + derived_hex(line.id, copy_number)[:ID_RANDOM_LENGTH])


def settled_lines(ledger: Sequence[BalanceTransaction], faults: Sequence[SettlementFault]) -> list[BalanceTransaction]:
    """The ledger as settled: the lines themselves when no fault is set."""
    return apply_faults(ledger, faults, _key, _alter, _duplicate) if faults else list(ledger)
