"""Growing the card hold when the basket outgrows it: an incremental authorization, or a
second authorization when the issuer refuses; a new card when the customer gives one.
A card authorization asked for after checkout is written down before the call, so a run
that crashed after it replays the same call instead of authorizing twice."""

from __future__ import annotations

from dataclasses import replace

from basketpay.errors import CardDeclined, InvalidRequest
from basketpay.invariant import invariant
from basketpay.orders import repository
from basketpay.orders.changes import CHANGEABLE, Changes, require_status
from basketpay.orders.engine import OrderEngine
from basketpay.orders.fulfilment import after_change
from basketpay.orders.record import (
    Authorization,
    OrderRecord,
    without_tip,
)
from basketpay.orders.tender_ops import order_key


class Growth:
    def __init__(self, engine: OrderEngine, changes: Changes) -> None:
        self.engine = engine
        self.changes = changes

    async def grow(self, order_id: str, workflow_id: str | None, new_card: str | None = None) -> str:
        record = await self.engine.load(order_id)
        card = record.card
        decision = after_change(without_tip(record.basket), record.domain_tenders(),
                                0 if new_card else (card.authorized if card else 0), record.policy.holds)
        if record.status not in CHANGEABLE or card is None or (decision.grow_to is None and not new_card):
            await self._finish(order_id, workflow_id, covered=decision.grow_to is None)
            return "nothing to grow"
        target = decision.grow_to or card.authorized
        outcome = await (self._new_card(record, new_card, target) if new_card else self.raise_hold(record, target))
        orphans: list[Authorization] = []
        async with self.engine.change(order_id) as outbox:
            outbox.finish(workflow_id)
            current = outbox.record
            current.pending_authorization = None
            if current.status not in CHANGEABLE:  # delivered or canceled meanwhile: undo what was added
                known = {item.id for item in current.card.authorizations} if current.card else set()
                orphans = [] if isinstance(outcome, str) else [item for item in outcome if item.id not in known]
            elif isinstance(outcome, str):
                self.changes.need_customer(outbox, "authorization_declined", outcome)
            else:
                self.record_hold(current, outcome, new_card)
                current.status, current.action = "authorized", None
                self.changes.after_change(outbox)
                outbox.emit("order.hold_increased")
        for orphan in orphans:
            await self.engine.cards.cancel(record.merchant_id, order_key(record.id, orphan.id, "release"), orphan.id)
        if isinstance(outcome, str):
            return "declined"
        return "grown"

    async def raise_hold(self, record: OrderRecord, target: int) -> list[Authorization] | str:
        """Increment the first open authorization; if refused, authorize the difference apart."""
        card = record.card
        invariant(card is not None, "only a card's hold grows")
        assert card is not None
        opened = card.open_authorizations()
        if opened and record.pending_authorization is None:
            first = opened[0]
            # What the processor authorized: a run that crashed after its increment (or its capture) did it already.
            intent = await self.engine.payments.retrieve(record.merchant_id, first.id)
            held = int(intent["amount_authorized"])
            total = card.authorized - first.amount + held
            if total >= target:
                return [replace(first, amount=held)]
            if intent["status"] == "requires_capture":  # else lapsed or voided: it cannot grow
                wanted = held + target - total
                result = await self.engine.cards.increment(
                    record.merchant_id, order_key(record.id, "card", "increment", first.id, wanted), first.id, wanted)
                if not result.declined:
                    return [replace(first, amount=int(result.intent["amount_authorized"]))]
        return await self.authorize_card(record, target - card.authorized, card.reference, "extra")

    async def _new_card(self, record: OrderRecord, payment_method: str, target: int) -> list[Authorization] | str:
        return await self.authorize_card(record, target, payment_method, "hold", off_session=False)

    async def authorize_card(self, record: OrderRecord, amount: int, payment_method: str, purpose: str,
                             off_session: bool = True) -> list[Authorization] | str:
        """A card authorization after checkout (merchant-initiated unless the customer is there),
        written down before the call; the caller's final write clears it."""
        pending = record.pending_authorization
        if pending is None:
            async with self.engine.change(record.id) as outbox:
                current = outbox.record
                if current.pending_authorization is None:
                    current.authorization_rounds += 1
                    current.pending_authorization = {
                        "key": order_key(record.id, "card", "authorize", current.authorization_rounds),
                        "amount": amount, "payment_method": payment_method, "purpose": purpose,
                        "off_session": off_session}
                pending = current.pending_authorization
        assert pending is not None
        result = await self.engine.cards.authorize(
            record.merchant_id, pending["key"], pending["amount"], record.currency, pending["payment_method"],
            record.customer, record.id, off_session=pending["off_session"])
        if result.declined:
            return result.declined
        return [Authorization(result.id, int(result.intent["amount_authorized"]), pending["purpose"],
                              expires_at=result.intent.get("authorization_expires_at"))]

    def record_hold(self, record: OrderRecord, changed: list[Authorization], new_card: str | None) -> None:
        card = record.card
        assert card is not None
        if new_card is not None:
            card.reference = new_card
            for old in card.open_authorizations():
                old.status = "releasing"  # the cancel runs after the commit (release_replaced)
        by_id = {item.id: item for item in card.authorizations}
        for item in changed:
            if item.id in by_id:
                by_id[item.id].amount = item.amount
            else:
                card.authorizations.append(item)
        card.authorized = sum(item.amount for item in card.open_authorizations())

    async def release_replaced(self, order_id: str) -> None:
        """Cancel the old card's authorizations once a new card holds the order."""
        record = await self.engine.load(order_id)
        card = record.card
        releasing = [] if card is None else [item for item in card.authorizations if item.status == "releasing"]
        for item in releasing:
            await self.engine.cards.cancel(record.merchant_id, order_key(record.id, item.id, "release"), item.id)
        if releasing:
            async with self.engine.change(order_id) as outbox:
                current = outbox.record.card
                assert current is not None
                for item in current.authorizations:
                    if item.status == "releasing":
                        item.status = "released"

    async def resolve(self, merchant_id: str, order_id: str, payment_method: str | None) -> OrderRecord:
        """The customer's answer to requires_customer_action: try the card again, or a new card."""
        async with self.engine.database.connection() as connection:
            record = await repository.load(connection, merchant_id, order_id, lock=False)
            if payment_method is not None:
                await self.engine.payments.vault.load(connection, merchant_id, payment_method)
        require_status(record, ("requires_customer_action",), "resolve")
        if record.card is None and payment_method is None:
            raise InvalidRequest("This order has no card: give one (payment_method).", param="payment_method")
        if record.card is None:
            raise InvalidRequest("Adding a card to an order without one is not supported.", param="payment_method")
        outcome = await self.grow(order_id, None, payment_method)
        if payment_method is not None:
            await self.release_replaced(order_id)
        async with self.engine.database.connection() as connection:
            record = await repository.load(connection, merchant_id, order_id, lock=False)
        if outcome == "declined":
            raise CardDeclined("The card was declined.", code="card_declined",
                               decline_code=record.action.decline_code if record.action else None,
                               extra={"order": record.id})
        return record

    async def _finish(self, order_id: str, workflow_id: str | None, covered: bool) -> None:
        async with self.engine.change(order_id) as outbox:
            outbox.finish(workflow_id)
            outbox.changed = covered and outbox.record.status == "authorized"
            if outbox.changed:
                outbox.record.covered_basket = outbox.record.basket

