"""Delivery: each tender captures its share of the final basket (a card capture above its
hold raises the hold first), every hold's remainder is released, and the delivered basket
is allocated in the ledger — from customer receivables to the retailer (items, taxes,
deposits) and to platform revenue (fees) — in the transaction that marks it delivered."""

from __future__ import annotations

import datetime as dt

from basketpay.errors import Conflict
from basketpay.invariant import invariant
from basketpay.orders.basket import ChargeKind
from basketpay.orders.changes import Changes, require_status
from basketpay.orders.engine import RECEIVABLES, OrderEngine, Outbox
from basketpay.orders.fulfilment import delivery_captures
from basketpay.orders.growth import Growth
from basketpay.orders.record import (
    Authorization,
    ChargeShare,
    OrderRecord,
    TenderState,
    item_charges,
    split_json,
    without_tip,
)
from basketpay.orders.refunds import revenue_code
from basketpay.orders.tender_ops import order_key
from basketpay.orders.tenders import TenderKind, split
from basketpay.orders.tips import Tips


def _allocation(shares: list[ChargeShare], amounts: dict[int, int]) -> list[tuple[str, str, int]]:
    """Receivables to the retailer (items, taxes, deposits) and to revenue (fees): legs for the
    given amount of each charge (by position)."""
    legs: dict[str, int] = {}
    for index, amount in amounts.items():
        share = shares[index]
        code = revenue_code(share.reference) if share.kind == ChargeKind.FEE.value else "retailer_payables"
        legs[code] = legs.get(code, 0) + amount
    total = sum(legs.values())
    return [(RECEIVABLES, "debit", total), *((code, "credit", amount) for code, amount in sorted(legs.items()))]


class Delivery:
    def __init__(self, engine: OrderEngine, changes: Changes, growth: Growth, tips: Tips) -> None:
        self.engine = engine
        self.changes = changes
        self.growth = growth
        self.tips = tips

    async def request_delivery(self, merchant_id: str, order_id: str) -> OrderRecord:
        async with self.engine.change(order_id, merchant_id) as outbox:
            record = outbox.record
            if record.status in ("delivering", "delivered", "completed"):
                outbox.changed = False
                return record
            require_status(record, ("authorized",), "deliver")
            record.status = "delivering"
            outbox.start("deliver")
        return outbox.record

    async def deliver(self, order_id: str, workflow_id: str) -> str:
        """Capture, release, allocate; with no tip change window, the tip at once in the same step
        (its workflow would only wait zero seconds, at the cost of a second workflow)."""
        record = await self.engine.load(order_id)
        if record.status == "delivering":
            outcome = await self._deliver(record, workflow_id)
            if outcome != "delivered":
                return outcome
        elif record.status != "delivered":
            await self.engine.finish_only(order_id, workflow_id)
            return "not delivering"
        if record.policy.tip_change_window_seconds > 0 or record.card is None:
            return "delivered"
        return await self.tips.charge_tip(order_id, workflow_id, "1")

    async def _deliver(self, record: OrderRecord, workflow_id: str) -> str:
        order_id = record.id
        captures = delivery_captures(without_tip(record.basket), record.domain_tenders())
        card = record.card
        if card is not None and captures.get(card.id, 0) > card.authorized:
            outcome = await self.growth.raise_hold(record, captures[card.id])
            if isinstance(outcome, str):
                async with self.engine.change(order_id) as outbox:
                    outbox.finish(workflow_id)
                    outbox.record.pending_authorization = None
                    outbox.record.status = "authorized"  # back to where the customer can act
                    self.changes.need_customer(outbox, "capture_exceeds_hold", outcome)
                return "needs customer"
            self.growth.record_hold(record, outcome, None)
        for tender in record.tenders:
            await self._capture(record, tender, captures.get(tender.id, 0))
        shares = split_json(split(item_charges(record.basket), record.domain_tenders()))
        async with self.engine.change(order_id) as outbox:
            current = outbox.record
            if current.status != "delivering":  # another run of this step got here first
                outbox.changed = False
                return "delivered"
            self._post_delivery(outbox, record, shares)
            current.tenders, current.final_split = record.tenders, shares
            current.pending_authorization = None
            current.status = "delivered"
            current.delivered_at = dt.datetime.now(dt.UTC).isoformat()
            outbox.emit("order.delivered")
            self._schedule_tip(outbox, workflow_id)
        return "delivered"

    @staticmethod
    def _post_delivery(outbox: Outbox, record: OrderRecord, shares: list[ChargeShare]) -> None:
        """With the delivered order, in its transaction: EBT's captures, and the allocation."""
        for tender in record.tenders:
            if tender.kind is not TenderKind.SNAP_EBT:
                continue
            for item in tender.authorizations:
                outbox.post(f"{item.id}:capture", "order.snap_ebt_capture",
                            [("snap_ebt_clearing", "debit", item.captured), (RECEIVABLES, "credit", item.captured)],
                            "SNAP EBT captured at delivery")
        outbox.post("allocation", "order.allocation",
                    _allocation(shares, {index: share.amount for index, share in enumerate(shares)}),
                    "The delivered order, to the retailer and to revenue")

    async def _capture(self, record: OrderRecord, tender: TenderState, amount: int) -> None:
        """Capture `amount` across the tender's open authorizations, in order; release the rest."""
        left = amount
        for item in tender.open_authorizations():
            take = min(left, item.amount)
            left -= take
            await self.capture_one(record, tender, item, take)
            item.captured, item.status = take, "captured" if take else "released"
        invariant(left == 0, f"tender {tender.id} asked to capture {amount} beyond its authorizations")

    async def capture_one(self, record: OrderRecord, tender: TenderState, item: Authorization, amount: int) -> None:
        key = order_key(record.id, item.id, "capture")
        merchant = record.merchant_id
        if tender.kind is TenderKind.CARD:
            if amount:
                result = await self.engine.cards.capture(merchant, key, item.id, amount)
                if result.declined:
                    raise Conflict(f"capture of {item.id} refused: {result.declined}", code="capture_refused")
            else:
                await self.engine.cards.cancel(merchant, key, item.id)
        elif tender.kind is TenderKind.SNAP_EBT:
            if amount:
                await self.engine.ebt.capture(key, item.id, amount)
            else:
                await self.engine.ebt.cancel(key, item.id)
        else:
            await self.engine.stored.settle(merchant, key, item.id, amount)

    @staticmethod
    def _schedule_tip(outbox: Outbox, workflow_id: str) -> None:
        """The tip is charged when its change window closes: by a delayed workflow, or (no window)
        by the delivery's own step, which then finishes its workflow only once the tip is done."""
        record = outbox.record
        if record.card is None:
            record.status = "completed"
            outbox.finish(workflow_id)
            return
        record.tip.rounds += 1
        delay = record.policy.tip_change_window_seconds
        if delay > 0:
            outbox.start("tip", str(record.tip.rounds), delay)
            outbox.finish(workflow_id)

