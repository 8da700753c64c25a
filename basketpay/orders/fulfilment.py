"""What the shopper's changes do to the basket, and what the payment must do about them.

Item events change lines (substituted, weighed, out of stock, added, quantity changed);
after each one the tenders are split again, and the card hold grows when the card's
share outgrows it by more than the policy's threshold. At delivery every tender
captures its share of the final basket (the tip is captured afterwards, on its own: the final capture
closes the card's authorization, so the tip is a charge of its own, merchant-initiated).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from basketpay.orders.basket import Basket, ChargeKind, Line
from basketpay.orders.holds import HoldPolicy, grown_hold, hold_amount
from basketpay.orders.tenders import Split, Tender, TenderKind, split


class EventKind(enum.StrEnum):
    SUBSTITUTED = "substituted"
    WEIGHED = "weighed"
    OUT_OF_STOCK = "out_of_stock"
    ADDED = "added"
    QUANTITY_CHANGED = "quantity_changed"


class RejectedEvent(ValueError):
    """The event does not fit the basket (unknown line, wrong kind of line, bad quantity)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class ItemEvent:
    kind: EventKind
    line_id: str
    quantity: int | None = None  # weighed, quantity_changed
    line: Line | None = None  # substituted (the replacement), added


def apply(basket: Basket, event: ItemEvent) -> Basket:
    """The basket after the event; RejectedEvent (and the basket unchanged) if it does not fit."""
    if event.kind is EventKind.ADDED:
        if event.line is None or event.line.id != event.line_id:
            raise RejectedEvent("An added item needs its line, with the event's line id.", "line")
        if any(line.id == event.line_id for line in basket.lines):
            raise RejectedEvent(f"Line {event.line_id!r} is in the basket already.", "line_id")
        return basket.with_line(event.line)
    current = _existing(basket, event.line_id)
    if event.kind is EventKind.OUT_OF_STOCK:
        return basket.without_line(current.id)
    if event.kind is EventKind.SUBSTITUTED:
        if event.line is None:
            raise RejectedEvent("A substitution needs the replacement line.", "line")
        replaced = tuple(event.line if line.id == current.id else line for line in basket.lines)
        return replace(basket, lines=replaced)
    quantity = event.quantity
    if quantity is None or quantity < 0:
        raise RejectedEvent("The quantity must be given and not negative.", "quantity")
    if (event.kind is EventKind.WEIGHED) != current.weighed:
        kind = "weighed" if current.weighed else "counted"
        raise RejectedEvent(f"Line {current.id!r} is {kind}: use {'weighed' if current.weighed else 'quantity_changed'}.",
                            "kind")
    return basket.with_line(replace(current, quantity=quantity))


def _existing(basket: Basket, line_id: str) -> Line:
    try:
        return basket.line(line_id)
    except KeyError:
        raise RejectedEvent(f"No line {line_id!r} in this order's basket.", "line_id") from None


def card_share(result: Split, tenders: list[Tender]) -> int:
    cards = {tender.id for tender in tenders if tender.kind is TenderKind.CARD}
    return sum(amount for tender_id, amount in result.tender_totals().items() if tender_id in cards)


@dataclass(frozen=True, slots=True)
class HoldDecision:
    split: Split
    card_share: int
    grow_to: int | None  # the new authorized total, or None: the hold covers it


def after_change(basket: Basket, tenders: list[Tender], held: int, policy: HoldPolicy) -> HoldDecision:
    """Split the changed basket and decide about the hold (the order layer passes the basket
    without its tip: the tip is a charge of its own after delivery)."""
    result = split(basket.charges(), tenders)
    share = card_share(result, tenders)
    return HoldDecision(result, share, grown_hold(share, held, basket.currency, policy))


def initial_hold(basket: Basket, tenders: list[Tender], policy: HoldPolicy) -> tuple[Split, int]:
    result = split(basket.charges(), tenders)
    return result, hold_amount(card_share(result, tenders), basket.currency, policy)


def delivery_captures(basket: Basket, tenders: list[Tender]) -> dict[str, int]:
    """Each tender's capture at delivery: its share of the final basket without the tip (the
    tip is captured after delivery, when the customer can no longer lower it)."""
    result = split(basket.charges(), tenders)
    captures: dict[str, int] = {}
    for charge, share in zip(result.charges, result.shares, strict=True):
        if charge.kind is ChargeKind.TIP:
            continue
        for tender_id, amount in share.items():
            captures[tender_id] = captures.get(tender_id, 0) + amount
    return captures


def hold_for_capture(card_capture: int, held: int) -> int | None:
    """At delivery the threshold no longer applies: a processor captures at most what it
    authorized, so a card capture above the hold needs the hold raised to it first."""
    return card_capture if card_capture > held else None
