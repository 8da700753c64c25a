"""Splitting what an order costs across its tenders, charge by charge, in the order
DESIGN.md fixes: SNAP EBT first (eligible item amounts only, up to its balance), then
customer credit, then gift cards (in the order given), then the card for the rest.

Every charge (an item, a tax, a deposit, a fee, the tip) records which tender pays
how much of it, so a refund of an item goes back to the tenders that paid for that
item, and the card's share is what its hold must cover.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from basketpay.invariant import invariant
from basketpay.orders.basket import Charge


class TenderKind(enum.StrEnum):
    SNAP_EBT = "snap_ebt"
    CREDIT = "credit"
    GIFT_CARD = "gift_card"
    CARD = "card"


TENDER_ORDER = (TenderKind.SNAP_EBT, TenderKind.CREDIT, TenderKind.GIFT_CARD, TenderKind.CARD)


@dataclass(frozen=True, slots=True)
class Tender:
    id: str
    kind: TenderKind
    balance: int | None = None  # what it can pay at most; None for the card (its hold is grown instead)

    def __post_init__(self) -> None:
        invariant((self.balance is None) == (self.kind is TenderKind.CARD), f"tender {self.id}: only a card has no balance")
        invariant(self.balance is None or self.balance >= 0, f"tender {self.id}: negative balance")


def ordered(tenders: Iterable[Tender]) -> list[Tender]:
    """EBT, credit, gift cards (as given), card; at most one EBT card and one card."""
    result = sorted(tenders, key=lambda tender: TENDER_ORDER.index(tender.kind))
    for kind in (TenderKind.SNAP_EBT, TenderKind.CARD, TenderKind.CREDIT):
        invariant(sum(1 for tender in result if tender.kind is kind) <= 1, f"at most one {kind} tender")
    return result


@dataclass(slots=True)
class Split:
    """Who pays what: for each charge (by its position in `charges`), tender id -> amount."""

    charges: list[Charge]
    shares: list[dict[str, int]] = field(default_factory=list)
    unpaid: int = 0  # more than the tenders can pay (no card): the order cannot go ahead

    def tender_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for share in self.shares:
            for tender_id, amount in share.items():
                totals[tender_id] = totals.get(tender_id, 0) + amount
        return totals


def split(charges: list[Charge], tenders: Iterable[Tender]) -> Split:
    """Fill the charges tender by tender, in tender order; EBT only on eligible item amounts."""
    result = Split(charges, [{} for _ in charges])
    left = [charge.amount for charge in charges]
    for tender in ordered(tenders):
        available = tender.balance
        for index, charge in enumerate(charges):
            if tender.kind is TenderKind.SNAP_EBT and not charge.snap_eligible:
                continue
            take = left[index] if available is None else min(left[index], available)
            if take <= 0:
                continue
            result.shares[index][tender.id] = take
            left[index] -= take
            if available is not None:
                available -= take
    result.unpaid = sum(left)
    _check(result, tenders)
    return result


def _check(result: Split, tenders: Iterable[Tender]) -> None:
    by_id = {tender.id: tender for tender in tenders}
    for charge, share in zip(result.charges, result.shares, strict=True):
        invariant(sum(share.values()) <= charge.amount, "a charge is never paid twice over")
        ebt = sum(amount for tender_id, amount in share.items() if by_id[tender_id].kind is TenderKind.SNAP_EBT)
        invariant(ebt == 0 or charge.snap_eligible, f"EBT may not pay {charge.kind} {charge.reference}")
    for tender_id, total in result.tender_totals().items():
        balance = by_id[tender_id].balance
        invariant(balance is None or total <= balance, f"tender {tender_id} pays more than its balance")
    invariant(sum(c.amount for c in result.charges) == sum(result.tender_totals().values()) + result.unpaid,
              "every cent of the order is paid by exactly one tender, or unpaid")


def refund_shares(paid: Mapping[str, int], refunded: Mapping[str, int], amount: int) -> dict[str, int]:
    """Split a refund of `amount` of one charge across the tenders that paid it, in proportion
    to what each paid and has not had back yet (largest remainder, so cents add up exactly)."""
    open_ = {tender: paid[tender] - refunded.get(tender, 0) for tender in paid}
    total_open = sum(open_.values())
    invariant(0 < amount <= total_open, "a refund never exceeds what is left of the charge")
    exact = {tender: amount * value for tender, value in open_.items()}
    shares = {tender: value // total_open for tender, value in exact.items()}
    short = amount - sum(shares.values())
    by_remainder = sorted(open_, key=lambda tender: (-(exact[tender] % total_open), tender))
    for tender in by_remainder[:short]:
        shares[tender] += 1
    return {tender: value for tender, value in shares.items() if value}
