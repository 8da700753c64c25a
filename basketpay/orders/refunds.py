"""Refunds of delivered items: what each refunded line gives back (its item amount, its
tax and its deposit, for the quantity refunded) and to which tenders — the ones that paid
for that line, in proportion to what each paid and has not had back."""

from __future__ import annotations

from dataclasses import replace

from basketpay.errors import InvalidRequest
from basketpay.orders.basket import ChargeKind, Line
from basketpay.orders.record import ChargeShare, OrderRecord, OrderRefund
from basketpay.orders.schemas import OrderRefundCreate
from basketpay.orders.tenders import refund_shares


def _line(record: OrderRecord, line_id: str) -> Line:
    try:
        return record.basket.line(line_id)
    except KeyError:
        raise InvalidRequest(f"No line {line_id!r} was delivered in this order.", code="parameter_invalid",
                             param="lines") from None


def _charge_amounts(line: Line, remaining: int, quantity: int) -> list[tuple[ChargeKind, int]]:
    """The difference between the line at what is left of it and at that less `quantity`:
    refunding a line in parts gives back exactly what it cost in all."""
    before, after = replace(line, quantity=remaining), replace(line, quantity=remaining - quantity)
    return [(ChargeKind.ITEM, before.amount - after.amount), (ChargeKind.TAX, before.tax - after.tax),
            (ChargeKind.DEPOSIT, before.deposit - after.deposit)]


def refund_plan(record: OrderRecord, refund_id: str, params: OrderRefundCreate) -> OrderRefund:
    """The refund, with each tender's share; reserves those amounts on the order's split."""
    shares = record.final_split or []
    position = {(share.kind, share.reference): share for share in shares}
    requested = [item.line_id for item in params.lines]
    if len(requested) != len(set(requested)):
        raise InvalidRequest("Name each line once in a refund.", code="parameter_invalid", param="lines")
    by_tender: dict[str, int] = {}
    lines = []
    for item in params.lines:
        line = _line(record, item.line_id)
        already = record.refunded_quantities.get(line.id, 0)
        remaining = line.quantity - already
        quantity = remaining if item.quantity is None else item.quantity
        if quantity <= 0 or quantity > remaining:
            raise InvalidRequest(f"Line {line.id!r} has {remaining} left to refund.", code="refund_exceeds_delivered",
                                 param="lines")
        for kind, amount in _charge_amounts(line, remaining, quantity):
            if amount:
                _take(position[(kind.value, line.id)], amount, by_tender)
        record.refunded_quantities[line.id] = already + quantity
        lines.append({"line_id": line.id, "quantity": quantity})
    total = sum(by_tender.values())
    if total == 0:
        raise InvalidRequest("These lines cost nothing: there is nothing to refund.", param="lines")
    return OrderRefund(refund_id, total, lines, by_tender, params.reason)


def _take(share: ChargeShare, amount: int, by_tender: dict[str, int]) -> None:
    for tender_id, part in refund_shares(share.paid, share.refunded, amount).items():
        share.refunded[tender_id] = share.refunded.get(tender_id, 0) + part
        by_tender[tender_id] = by_tender.get(tender_id, 0) + part
