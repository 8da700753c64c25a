"""Fulfilment changes: item events change the basket and the split; when the card's share
outgrows its hold, a workflow grows the hold (an incremental authorization, else a second
authorization); when neither works the order needs the customer, and a timeout decides.
Re-authorization keeps a scheduled order's card hold alive until its delivery."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace

import orjson

from basketpay.errors import CardDeclined, Conflict, IdempotencyMismatch, InvalidRequest
from basketpay.invariant import invariant
from basketpay.orders import repository
from basketpay.orders.basket import Line
from basketpay.orders.engine import OrderEngine, Outbox
from basketpay.orders.fulfilment import EventKind, ItemEvent, RejectedEvent, after_change, apply
from basketpay.orders.record import Authorization, OrderRecord, without_tip
from basketpay.orders.schemas import ItemEventIn
from basketpay.orders.tender_ops import CardResult, order_key

CHANGEABLE = ("authorized", "requires_customer_action")


def _event_of(params: ItemEventIn) -> ItemEvent:
    line = None if params.line is None else Line(**params.line.model_dump())
    return ItemEvent(EventKind(params.type), params.line_id, params.quantity, line)


def require_status(record: OrderRecord, allowed: tuple[str, ...], doing: str) -> None:
    if record.status not in allowed:
        raise Conflict(f"You cannot {doing} an order whose status is {record.status}.",
                       code="order_unexpected_state")


class Changes:
    def __init__(self, engine: OrderEngine) -> None:
        self.engine = engine

    # -- item events (in the request) --------------------------------------------------------------
    async def apply_event(self, merchant_id: str, order_id: str, params: ItemEventIn) -> OrderRecord:
        event = _event_of(params)
        payload = params.model_dump(mode="json")
        digest = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
        async with self.engine.change(order_id, merchant_id) as outbox:
            record = outbox.record
            seen = await repository.record_event(outbox.connection, order_id, params.id, digest, params.type, payload)
            if seen is not None:
                if seen != digest:
                    raise IdempotencyMismatch(f"Event {params.id!r} was sent before with other content.",
                                              code="event_id_reused", param="id")
                outbox.changed = False
                return record
            require_status(record, CHANGEABLE, "change the items of")
            try:
                record.basket = apply(record.basket, event)
            except RejectedEvent as rejected:
                raise InvalidRequest(str(rejected), code="parameter_invalid", param=rejected.param) from rejected
            self._after_change(outbox)
            outbox.emit("order.updated")
        return outbox.record

    def _after_change(self, outbox: Outbox) -> None:
        record = outbox.record
        card = record.card
        decision = after_change(without_tip(record.basket), record.domain_tenders(),
                                card.authorized if card else 0, record.policy.holds)
        if decision.split.unpaid:
            self.need_customer(outbox, "tenders_insufficient", None)
        elif decision.grow_to is not None:
            outbox.start("grow", str(record.version + 1))
        elif record.status == "authorized":
            record.covered_basket = record.basket

    def need_customer(self, outbox: Outbox, reason: str, decline_code: str | None) -> None:
        from basketpay.orders.record import ActionRequired

        record = outbox.record
        timeout = record.policy.customer_action_timeout_seconds
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout)
        record.action = ActionRequired(reason, deadline.isoformat(), decline_code)
        if record.status != "requires_customer_action":
            record.status = "requires_customer_action"
            record.actions += 1
            outbox.emit("order.requires_customer_action")
            outbox.start("action_timeout", str(record.actions), timeout)

    # -- growing the hold (a workflow, or the customer's retry) -----------------------------------
    async def grow(self, order_id: str, workflow_id: str | None, new_card: str | None = None) -> str:
        async with self.engine.database.connection() as connection:
            record = await repository.load_any(connection, order_id)
        card = record.card
        decision = after_change(without_tip(record.basket), record.domain_tenders(),
                                0 if new_card else (card.authorized if card else 0), record.policy.holds)
        if record.status not in CHANGEABLE or card is None or (decision.grow_to is None and not new_card):
            await self._finish(order_id, workflow_id, covered=decision.grow_to is None)
            return "nothing to grow"
        target = decision.grow_to or card.authorized
        outcome = await (self._new_card(record, new_card, target) if new_card else self._raise(record, target))
        orphans: list[Authorization] = []
        async with self.engine.change(order_id) as outbox:
            outbox.finish(workflow_id)
            current = outbox.record
            current.pending_authorization = None
            if current.status not in CHANGEABLE:  # delivered or canceled meanwhile: undo what was added
                known = {item.id for item in current.card.authorizations} if current.card else set()
                orphans = [] if isinstance(outcome, str) else [item for item in outcome if item.id not in known]
            elif isinstance(outcome, str):
                self.need_customer(outbox, "authorization_declined", outcome)
            else:
                self._record_hold(current, outcome, new_card)
                current.status, current.action = "authorized", None
                self._after_change(outbox)
                outbox.emit("order.hold_increased")
        for orphan in orphans:
            await self.engine.cards.cancel(record.merchant_id, order_key(record.id, orphan.id, "release"), orphan.id)
        if isinstance(outcome, str):
            return "declined"
        return "grown"

    async def _raise(self, record: OrderRecord, target: int) -> list[Authorization] | str:
        """Increment the first open authorization; if refused, authorize the difference apart."""
        card = record.card
        invariant(card is not None, "only a card's hold grows")
        assert card is not None
        opened = card.open_authorizations()
        if opened and record.pending_authorization is None:
            first = opened[0]
            # What the processor holds now: a run that crashed after its increment raised it already.
            held = int((await self.engine.payments.retrieve(record.merchant_id, first.id))["amount_capturable"])
            total = card.authorized - first.amount + held
            if total >= target:
                return [replace(first, amount=held)]
            wanted = held + target - total
            result = await self.engine.cards.increment(
                record.merchant_id, order_key(record.id, "card", "increment", first.id, wanted), first.id, wanted)
            if not result.declined:
                return [replace(first, amount=int(result.intent["amount_capturable"]))]
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
        return [Authorization(result.id, int(result.intent["amount_capturable"]), pending["purpose"],
                              expires_at=result.intent.get("authorization_expires_at"))]

    def _record_hold(self, record: OrderRecord, changed: list[Authorization], new_card: str | None) -> None:
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
        async with self.engine.database.connection() as connection:
            record = await repository.load_any(connection, order_id)
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

    # -- the customer did not answer -----------------------------------------------------------------
    async def action_timeout(self, order_id: str, workflow_id: str, round_: str) -> str:
        async with self.engine.change(order_id) as outbox:
            outbox.finish(workflow_id)
            record = outbox.record
            if record.status != "requires_customer_action" or str(record.actions) != round_:
                outbox.changed = False
                return "answered"
            record.action = None
            if record.policy.customer_action_timeout_outcome == "cancel":
                record.status = "canceling"
                record.failure = {"code": "customer_action_timeout"}
                outbox.start("cancel")
                return "canceling"
            record.basket = record.covered_basket.with_tip(record.basket.tip)
            record.status = "authorized"
            outbox.emit("order.updated")
            return "reverted"

    # -- scheduled orders ----------------------------------------------------------------------------
    async def reauthorize(self, order_id: str, workflow_id: str, round_: str) -> str:
        async with self.engine.database.connection() as connection:
            record = await repository.load_any(connection, order_id)
        card = record.card
        if record.status not in CHANGEABLE or card is None or not card.open_authorizations():
            await self._finish(order_id, workflow_id, covered=False)
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
                self.need_customer(outbox, "authorization_declined", result.declined)
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
            result.id, int(result.intent["amount_capturable"]), "reauthorization",
            expires_at=result.intent.get("authorization_expires_at")))
        card.authorized = int(result.intent["amount_capturable"])
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
