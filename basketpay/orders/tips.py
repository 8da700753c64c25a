"""Tips: changeable freely during the change window after delivery, then only raised until
the increase window closes; charged when the change window closes (later raises at once)
as a merchant-initiated sale of their own, owed to the shopper (tips payable)."""

from __future__ import annotations

import datetime as dt

from basketpay.errors import Conflict, InvalidRequest
from basketpay.orders.changes import CHANGEABLE, require_status
from basketpay.orders.engine import RECEIVABLES, OrderEngine
from basketpay.orders.record import (
    OrderRecord,
)
from basketpay.orders.refunds import tip_refund
from basketpay.orders.tender_ops import order_key


class Tips:
    def __init__(self, engine: OrderEngine) -> None:
        self.engine = engine

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
        record = await self.engine.load(order_id)
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


def _age(moment: dt.datetime) -> float:
    return (dt.datetime.now(dt.UTC) - moment).total_seconds()


