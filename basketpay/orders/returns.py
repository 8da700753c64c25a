"""Refunds of delivered items and cancellation. Both are planned under the order's row lock
(each authorization's refunded amount reserved), so two of them never give the same cent
back; the workflow then gives each part back and writes the ledger entries with the
refund's completion. Cancellation before delivery releases every hold, finding those an
unfinished checkout made."""

from __future__ import annotations

import datetime as dt
from typing import Any

from basketpay.errors import Conflict
from basketpay.orders.changes import require_status
from basketpay.orders.delivery import Delivery
from basketpay.orders.engine import RECEIVABLES, OrderEngine, Outbox
from basketpay.orders.record import (
    Authorization,
    OrderRecord,
    OrderRefund,
    TenderState,
)
from basketpay.orders.refunds import cancellation_refund, refund_plan
from basketpay.orders.schemas import OrderRefundCreate
from basketpay.orders.tender_ops import order_key
from basketpay.orders.tenders import TenderKind


class Returns:
    def __init__(self, engine: OrderEngine, delivery: Delivery) -> None:
        self.engine = engine
        self.delivery = delivery

    async def request_refund(self, merchant_id: str, order_id: str, refund_id: str,
                             params: OrderRefundCreate) -> OrderRecord:
        async with self.engine.change(order_id, merchant_id) as outbox:
            record = outbox.record
            if any(refund.id == refund_id for refund in record.refunds):
                outbox.changed = False
                return record
            require_status(record, ("delivered", "completed"), "refund items of")
            refund = refund_plan(record, refund_id, params)
            record.refunds.append(refund)
            outbox.start("refund", refund_id)
        return outbox.record

    async def refund(self, order_id: str, workflow_id: str, refund_id: str) -> str:
        record = await self.engine.load(order_id)
        refund = next(item for item in record.refunds if item.id == refund_id)
        if refund.status == "pending":
            await self._carry_out(record, refund)
        async with self.engine.change(order_id) as outbox:
            outbox.finish(workflow_id)
            current = next(item for item in outbox.record.refunds if item.id == refund_id)
            outbox.changed = current.status == "pending"
            if outbox.changed:
                self._post_refund(outbox, current)
                current.status = "succeeded"
                outbox.emit("order.refunded")
        return "refunded"

    async def _carry_out(self, record: OrderRecord, refund: OrderRefund) -> None:
        """Give each part back (a re-run replays every call); the ledger follows with the order."""
        for part in refund.parts:
            await self._give_back(record, part, f"refund:{refund.id}")

    async def _give_back(self, record: OrderRecord, part: dict[str, Any], step: str) -> None:
        amount, authorization = int(part["amount"]), str(part["authorization"])
        key = order_key(record.id, authorization, step)
        kind = TenderKind.CARD if part["tender"] == "tip" else record.tender(str(part["tender"])).kind
        if kind is TenderKind.CARD:
            await self.engine.cards.refund(record.merchant_id, key, authorization, amount)
        elif kind is TenderKind.SNAP_EBT:
            await self.engine.ebt.refund(key, authorization, amount)
        # credit and gift cards are ledger accounts: their refund is the entry _post_refund writes

    @staticmethod
    def _post_refund(outbox: Outbox, refund: OrderRefund) -> None:
        """With the refund's completion, in its transaction: EBT and stored value given back, and
        the allocation taken back from the retailer, revenue and tips payable."""
        record = outbox.record
        for part in refund.parts:
            if part["tender"] == "tip":
                continue  # the card refund posted itself (the payments core)
            tender = record.tender(str(part["tender"]))
            amount, step = int(part["amount"]), f"{part['authorization']}:refund:{refund.id}"
            if tender.kind is TenderKind.SNAP_EBT:
                outbox.post(step, "order.snap_ebt_refund",
                            [(RECEIVABLES, "debit", amount), ("snap_ebt_clearing", "credit", amount)], "SNAP EBT refunded")
            elif tender.kind is not TenderKind.CARD:
                outbox.post(step, "order.stored_value_refund",
                            [(RECEIVABLES, "debit", amount), (str(tender.account), "credit", amount)],
                            f"Refunded to the {tender.kind.value.replace('_', ' ')}")
        total = sum(amount for _, amount in refund.legs)
        outbox.post(f"refund:{refund.id}", "order.refund",
                    [*((code, "debit", amount) for code, amount in refund.legs), (RECEIVABLES, "credit", total)],
                    "Given back to the customer")

    # -- cancellation --------------------------------------------------------------------------------
    async def request_cancel(self, merchant_id: str, order_id: str, reason: str) -> OrderRecord:
        async with self.engine.change(order_id, merchant_id) as outbox:
            record = outbox.record
            if record.status in ("canceling", "canceled", "failed"):
                outbox.changed = False
                return record
            if record.status in ("authorizing", "delivering"):
                raise Conflict(f"The order is {record.status}: cancel it once that has finished.",
                               code="order_unexpected_state")
            if record.delivered_at is not None:  # plan the refund of everything now, under the lock
                record.refunds.append(cancellation_refund(record))
            record.status = "canceling"
            record.cancellation_reason = reason
            outbox.start("cancel")
            outbox.emit("order.canceling")
        return outbox.record

    async def cancel(self, order_id: str, workflow_id: str) -> str:
        record = await self.engine.load(order_id)
        if record.status != "canceling":
            await self.engine.finish_only(order_id, workflow_id)
            return "not canceling"
        refund = next((item for item in record.refunds if item.id == "cancel"), None)
        released: dict[str, Authorization] = {}
        if refund is not None and refund.status == "pending":
            await self._carry_out(record, refund)
        elif refund is None:
            released = await self._release_all(record)
        async with self.engine.change(order_id) as outbox:
            outbox.finish(workflow_id)
            current = outbox.record
            if current.status != "canceling":  # another run of this step got here first
                outbox.changed = False
                return current.status
            self._mark_released(current, released)
            planned = next((item for item in current.refunds if item.id == "cancel"), None)
            if planned is not None and planned.status == "pending":
                self._post_refund(outbox, planned)
                planned.status = "succeeded"
            current.status = "failed" if never_authorized(current) else "canceled"
            current.canceled_at = dt.datetime.now(dt.UTC).isoformat()
            outbox.emit("order.failed" if current.status == "failed" else "order.canceled")
        return current.status

    async def _release_all(self, record: OrderRecord) -> dict[str, Authorization]:
        """Release every open authorization (finding those an unfinished checkout made)."""
        released: dict[str, Authorization] = {}
        for tender in record.tenders:
            await self._discover(record, tender)
            for item in tender.open_authorizations():
                await self.delivery.capture_one(record, tender, item, 0)
                item.status = "released"
                released[f"{tender.id}/{item.id}"] = item
        return released

    @staticmethod
    def _mark_released(record: OrderRecord, released: dict[str, Authorization]) -> None:
        for key, item in released.items():
            tender = record.tender(key.split("/", 1)[0])
            known = {existing.id: existing for existing in tender.authorizations}
            if item.id in known:
                known[item.id].status = "released"
            else:
                tender.authorizations.append(item)

    async def _discover(self, record: OrderRecord, tender: TenderState) -> None:
        """A checkout that never finished may have authorized a tender without saying so."""
        if tender.authorizations or tender.authorized == 0 or record.delivered_at is not None:
            return
        key = order_key(record.id, tender.id, "authorize")
        if tender.kind is TenderKind.CARD:
            found = await self.engine.cards.find(record.merchant_id, key)
            if found is not None and not found.declined and found.intent["status"] == "requires_capture":
                tender.authorizations.append(Authorization(found.id, int(found.intent["amount_capturable"])))
        elif tender.kind is TenderKind.SNAP_EBT:
            payment = await self.engine.ebt.find(f"{record.id}:snap_ebt")
            if payment is not None and payment.status == "authorized":
                tender.authorizations.append(Authorization(payment.id, payment.amount))
        else:
            try:
                hold_id = await self.engine.stored.hold(record.merchant_id, key, str(tender.account), record.currency,
                                                        tender.authorized, record.id)
            except Conflict:  # the balance went elsewhere: nothing was held for this order
                return
            tender.authorizations.append(Authorization(hold_id, tender.authorized))


def never_authorized(record: OrderRecord) -> bool:
    return record.failure is not None and record.failure.get("code") in ("tender_declined", "checkout_abandoned")


