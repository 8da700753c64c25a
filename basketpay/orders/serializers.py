"""The JSON shape of an order: its basket and totals, each tender with what it authorized,
captured and refunded, the split of the delivered basket, the tip, and what it waits for."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from basketpay.orders.record import OrderRecord, without_tip
from basketpay.orders.tenders import TenderKind


def _tender_json(tender: Any) -> dict[str, Any]:
    reference = tender.reference
    if tender.kind is TenderKind.SNAP_EBT:
        reference = None  # the EBT card's processor token is not the merchant's to reuse
    return {
        "id": tender.id, "type": tender.kind.value, "reference": reference, "authorized": tender.authorized,
        "captured": tender.captured, "refunded": tender.refunded,
        "authorizations": [asdict(item) for item in tender.authorizations],
    }


def order_json(record: OrderRecord) -> dict[str, Any]:
    basket = record.basket
    goods = without_tip(basket)
    return {
        "id": record.id,
        "object": "order",
        "status": record.status,
        "currency": record.currency,
        "customer": record.customer,
        "metadata": record.metadata,
        "lines": [asdict(line) | {"amount": line.amount, "tax": line.tax, "deposit": line.deposit}
                  for line in basket.lines],
        "fees": [{"name": name, "amount": amount} for name, amount in basket.fees],
        "amount_items": sum(line.amount for line in basket.lines),
        "amount_snap_eligible": basket.snap_eligible_total,
        "amount_total": goods.total(),
        "tip": {"amount": record.tip.amount, "captured": record.tip.captured, "charges": record.tip.charges,
                "failed": record.tip.failed},
        "tenders": [_tender_json(tender) for tender in record.tenders],
        "card_hold": record.card.authorized if record.card else 0,
        "captures": None if record.final_split is None else [asdict(share) for share in record.final_split],
        # Everything the customer paid: each tender's captures and the tip's charges.
        "amount_captured": sum(tender.captured for tender in record.tenders) + record.tip.captured,
        "amount_refunded": sum(tender.refunded for tender in record.tenders) + record.tip.refunded,
        "refunds": [asdict(refund) for refund in record.refunds],
        "requires_action": None if record.action is None else asdict(record.action),
        "failure": record.failure,
        "scheduled_for": record.scheduled_for,
        "delivered_at": record.delivered_at,
        "canceled_at": record.canceled_at,
        "version": record.version,
    }
