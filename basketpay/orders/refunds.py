"""Refunds of delivered items: what each refunded line gives back (its item amount, its
tax and its deposit, for the quantity refunded) and to which tenders — the ones that paid
for that line, in proportion to what each paid and has not had back."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from basketpay.errors import InvalidRequest
from basketpay.orders.basket import ChargeKind, Line
from basketpay.orders.record import ChargeShare, OrderRecord, OrderRefund, reserve
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
    parts = [part for tender_id, amount in sorted(by_tender.items())
             for part in reserve(record.tender(tender_id), amount)]
    return OrderRefund(refund_id, total, lines, by_tender, params.reason, parts=parts,
                       legs=[["retailer_payables", total]])


def revenue_code(fee: str) -> str:
    return "platform_revenue:delivery_fees" if "delivery" in fee else "platform_revenue:service_fees"


def cancellation_refund(record: OrderRecord) -> OrderRefund:
    """Everything a delivered order has not given back yet: each tender's captures, the tip,
    and the allocation of what was not refunded (retailer, revenue, tips payable)."""
    by_tender = {tender.id: tender.captured - tender.refunded for tender in record.tenders
                 if tender.captured > tender.refunded}
    parts = [part for tender_id, amount in by_tender.items() for part in reserve(record.tender(tender_id), amount)]
    legs: dict[str, int] = {}
    for share in record.final_split or []:
        left = share.amount - sum(share.refunded.values())
        if left:
            code = revenue_code(share.reference) if share.kind == ChargeKind.FEE.value else "retailer_payables"
            legs[code] = legs.get(code, 0) + left
        share.refunded = dict(share.paid)
    tip = record.tip
    for charge in tip.charges:
        left = charge["amount"] - charge.get("refunded", 0)
        if left:
            charge["refunded"] = charge["amount"]
            parts.append({"tender": "tip", "authorization": charge["id"], "amount": left})
            legs["tips_payable"] = legs.get("tips_payable", 0) + left
            tip.refunded += left
    amount = sum(part["amount"] for part in parts)
    return OrderRefund("cancel", amount, [], {**by_tender, **({"tip": legs["tips_payable"]} if "tips_payable" in legs
                                                             else {})},
                       "canceled", parts=parts, legs=[[code, value] for code, value in sorted(legs.items())])


def tip_refund(record: OrderRecord, charge: dict[str, Any], refund_id: str) -> OrderRefund:
    """A tip charged after the order was canceled: given straight back."""
    charge["refunded"] = charge["amount"]
    record.tip.refunded += charge["amount"]
    return OrderRefund(refund_id, charge["amount"], [], {"tip": charge["amount"]}, "canceled",
                       parts=[{"tender": "tip", "authorization": charge["id"], "amount": charge["amount"]}],
                       legs=[["tips_payable", charge["amount"]]])


def _take(share: ChargeShare, amount: int, by_tender: dict[str, int]) -> None:
    for tender_id, part in refund_shares(share.paid, share.refunded, amount).items():
        share.refunded[tender_id] = share.refunded.get(tender_id, 0) + part
        by_tender[tender_id] = by_tender.get(tender_id, 0) + part
