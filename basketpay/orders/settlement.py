"""Delivery, the tip, refunds and cancellation: the workflows that move the money.

Each runs as one workflow step that re-reads the order, makes its calls with keys derived
from the order (a re-run after a crash replays them), then records the outcome under the
order's row lock. The ledger side of an order: tenders' captures credit customer
receivables (the payments core for the card; here for EBT, credit and gift cards), and the
delivered basket is allocated from receivables to the retailer (items, taxes, deposits) and
to platform revenue (fees); the tip to tips payable (owed to the shopper).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from basketpay.errors import Conflict, InvalidRequest
from basketpay.invariant import invariant
from basketpay.ledger import chart
from basketpay.orders import repository
from basketpay.orders.basket import ChargeKind
from basketpay.orders.changes import CHANGEABLE, Changes, require_status
from basketpay.orders.engine import OrderEngine, Outbox
from basketpay.orders.fulfilment import delivery_captures
from basketpay.orders.record import (
    Authorization,
    ChargeShare,
    OrderRecord,
    OrderRefund,
    TenderState,
    item_charges,
    split_json,
    without_tip,
)
from basketpay.orders.refunds import cancellation_refund, refund_plan, revenue_code, tip_refund
from basketpay.orders.schemas import OrderRefundCreate
from basketpay.orders.tender_ops import order_key
from basketpay.orders.tenders import TenderKind, split

RECEIVABLES = chart.CUSTOMER_RECEIVABLES


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


class Settlement:
    def __init__(self, engine: OrderEngine, changes: Changes) -> None:
        self.engine = engine
        self.changes = changes

    async def _load(self, order_id: str) -> OrderRecord:
        async with self.engine.database.connection() as connection:
            return await repository.load_any(connection, order_id)

    # -- delivery ------------------------------------------------------------------------------------
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
        record = await self._load(order_id)
        if record.status == "delivering":
            outcome = await self._deliver(record, workflow_id)
            if outcome != "delivered":
                return outcome
        elif record.status != "delivered":
            await self._finish_only(order_id, workflow_id)
            return "not delivering"
        if record.policy.tip_change_window_seconds > 0 or record.card is None:
            return "delivered"
        return await self.charge_tip(order_id, workflow_id, "1")

    async def _deliver(self, record: OrderRecord, workflow_id: str) -> str:
        order_id = record.id
        captures = delivery_captures(without_tip(record.basket), record.domain_tenders())
        card = record.card
        if card is not None and captures.get(card.id, 0) > card.authorized:
            outcome = await self.changes._raise(record, captures[card.id])
            if isinstance(outcome, str):
                async with self.engine.change(order_id) as outbox:
                    outbox.finish(workflow_id)
                    outbox.record.pending_authorization = None
                    outbox.record.status = "authorized"  # back to where the customer can act
                    self.changes.need_customer(outbox, "capture_exceeds_hold", outcome)
                return "needs customer"
            self.changes._record_hold(record, outcome, None)
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
            await self._capture_one(record, tender, item, take)
            item.captured, item.status = take, "captured" if take else "released"
        invariant(left == 0, f"tender {tender.id} asked to capture {amount} beyond its authorizations")

    async def _capture_one(self, record: OrderRecord, tender: TenderState, item: Authorization, amount: int) -> None:
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

    async def _finish_only(self, order_id: str, workflow_id: str) -> None:
        async with self.engine.change(order_id) as outbox:
            outbox.finish(workflow_id)
            outbox.changed = False

    # -- the tip -------------------------------------------------------------------------------------
    async def set_tip(self, merchant_id: str, order_id: str, amount: int) -> OrderRecord:
        async with self.engine.change(order_id, merchant_id) as outbox:
            record = outbox.record
            if amount == record.tip.amount:
                outbox.changed = False
                return record
            require_status(record, (*CHANGEABLE, "delivering", "delivered", "completed"), "change the tip of")
            if record.card is None:
                raise InvalidRequest("A tip is charged to a card and this order has none.", param="amount")
            self._check_tip_window(record, amount)
            record.tip.amount = amount
            record.basket = record.basket.with_tip(amount)
            delivered = record.delivered_time()
            if delivered is not None and _age(delivered) > record.policy.tip_change_window_seconds:
                record.tip.rounds += 1
                outbox.start("tip", str(record.tip.rounds))  # charge the increase now
            outbox.emit("order.tip_changed")
        return outbox.record

    @staticmethod
    def _check_tip_window(record: OrderRecord, amount: int) -> None:
        delivered = record.delivered_time()
        if delivered is None or _age(delivered) <= record.policy.tip_change_window_seconds:
            return
        if _age(delivered) > record.policy.tip_increase_window_seconds:
            raise Conflict("The tip can no longer be changed.", code="tip_window_closed", param="amount")
        if amount < record.tip.amount:
            raise Conflict("The tip can only be increased now.", code="tip_decrease_not_allowed", param="amount")

    async def charge_tip(self, order_id: str, workflow_id: str, round_: str) -> str:
        record = await self._load(order_id)
        due = record.tip.amount - record.tip.captured
        card = record.card
        if record.status not in ("delivered", "completed") or card is None or due <= 0:
            async with self.engine.change(order_id) as outbox:
                outbox.finish(workflow_id)
                if outbox.record.status == "delivered":
                    outbox.record.status = "completed"
                    outbox.emit("order.completed")
                else:
                    outbox.changed = False
            return "nothing due"
        result = await self.engine.cards.charge(record.merchant_id, order_key(record.id, "tip", round_), due,
                                                record.currency, card.reference, record.customer, record.id,
                                                "Tip for the shopper")
        async with self.engine.change(order_id) as outbox:
            outbox.finish(workflow_id)
            current = outbox.record
            if any(charge["id"] == result.id for charge in current.tip.charges):  # recorded by an earlier run
                outbox.changed = False
                return "charged before"
            if result.declined:
                current.tip.failed = result.declined
                outbox.emit("order.tip_failed")
            else:
                charge = {"id": result.id, "amount": due, "refunded": 0}
                outbox.post(f"tip:{round_}", "order.tip", [(RECEIVABLES, "debit", due), ("tips_payable", "credit", due)],
                            "Tip, owed to the shopper")
                current.tip.captured += due
                current.tip.charges.append(charge)
                current.tip.failed = None
                outbox.emit("order.tip_captured")
                if current.status in ("canceling", "canceled"):  # canceled while the tip was being charged
                    current.refunds.append(tip_refund(current, charge, f"tip-{round_}"))
                    outbox.start("refund", f"tip-{round_}")
            if current.status == "delivered":
                current.status = "completed"
                outbox.emit("order.completed")
        return "declined" if result.declined else "charged"

    # -- refunds -------------------------------------------------------------------------------------
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
        record = await self._load(order_id)
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
        record = await self._load(order_id)
        if record.status != "canceling":
            await self._finish_only(order_id, workflow_id)
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
                await self._capture_one(record, tender, item, 0)
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


def _age(moment: dt.datetime) -> float:
    return (dt.datetime.now(dt.UTC) - moment).total_seconds()


__all__ = ["Settlement", "TenderState"]
