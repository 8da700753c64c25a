"""Scheduled orders: a card authorization lapses (by brand and initiator) before a slot days
away, so the order is re-authorized — merchant-initiated — ahead of the expiry, and the old
authorization released. A delayed workflow: nothing waits."""

from __future__ import annotations

import datetime as dt

from basketpay.invariant import invariant
from basketpay.orders.changes import CHANGEABLE, Changes
from basketpay.orders.engine import OrderEngine, Outbox
from basketpay.orders.record import (
    Authorization,
)
from basketpay.orders.tender_ops import CardResult, order_key


class Reauthorization:
    def __init__(self, engine: OrderEngine, changes: Changes) -> None:
        self.engine = engine
        self.changes = changes

    async def reauthorize(self, order_id: str, workflow_id: str, round_: str) -> str:
        record = await self.engine.load(order_id)
        card = record.card
        if record.status not in CHANGEABLE or card is None or not card.open_authorizations():
            await self.engine.finish_only(order_id, workflow_id)
            return "nothing to re-authorize"
        result = await self.engine.cards.authorize(
            record.merchant_id, order_key(record.id, "card", "reauthorize", round_), card.authorized, record.currency,
            card.reference, record.customer, record.id, off_session=True)
        if not result.declined:
            for old in card.open_authorizations():
                await self.engine.cards.cancel(record.merchant_id, order_key(record.id, old.id, "release"), old.id)
        orphan = None
        async with self.engine.change(order_id) as outbox:
            outbox.finish(workflow_id)
            if outbox.record.status not in CHANGEABLE:  # delivered or canceled meanwhile
                outbox.changed = False
                orphan = None if result.declined else result.id
            elif result.declined:
                self.changes.need_customer(outbox, "authorization_declined", result.declined)
            else:
                self._record_reauthorization(outbox, result)
        if orphan is not None:
            await self.engine.cards.cancel(record.merchant_id, order_key(record.id, orphan, "release"), orphan)
            return "too late"
        return "declined" if result.declined else "reauthorized"

    def _record_reauthorization(self, outbox: Outbox, result: CardResult) -> None:
        current = outbox.record
        card = current.card
        invariant(card is not None, "a re-authorized order has a card")
        assert card is not None
        for old in card.open_authorizations():
            old.status = "released"
        card.authorizations.append(Authorization(
            result.id, int(result.intent["amount_authorized"]), "reauthorization",
            expires_at=result.intent.get("authorization_expires_at")))
        card.authorized = int(result.intent["amount_authorized"])
        current.reauthorizations += 1
        outbox.emit("order.reauthorized")
        self._next_reauthorization(outbox)

    def _next_reauthorization(self, outbox: Outbox) -> None:
        schedule_reauthorization(outbox, self.engine.settings.order_reauthorize_before_expiry_seconds)



def schedule_reauthorization(outbox: Outbox, before_expiry_seconds: float) -> None:
    """A scheduled order whose card authorization lapses before its slot: re-authorize it
    `before_expiry_seconds` ahead of the expiry (a delayed workflow; nothing waits)."""
    record = outbox.record
    card = record.card
    open_ = [] if card is None else card.open_authorizations()
    if record.scheduled_for is None or not open_ or open_[-1].expires_at is None:
        return
    due = open_[-1].expires_at - before_expiry_seconds
    now = dt.datetime.now(dt.UTC).timestamp()
    if due <= now:  # the margin is longer than the authorization lasts: nothing sensible to schedule
        return
    if dt.datetime.fromisoformat(record.scheduled_for).timestamp() > due:
        outbox.start("reauthorize", str(record.reauthorizations + 1), due - now)
