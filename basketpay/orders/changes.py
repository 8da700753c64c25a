"""Fulfilment changes: item events change the basket and the split; when the card's share
outgrows its hold, a workflow grows the hold (an incremental authorization, else a second
authorization); when neither works the order needs the customer, and a timeout decides.
Re-authorization keeps a scheduled order's card hold alive until its delivery."""

from __future__ import annotations

import datetime as dt
import hashlib

import orjson

from basketpay.errors import Conflict, IdempotencyMismatch, InvalidRequest
from basketpay.orders import repository
from basketpay.orders.basket import Line
from basketpay.orders.engine import OrderEngine, Outbox
from basketpay.orders.fulfilment import EventKind, ItemEvent, RejectedEvent, after_change, apply
from basketpay.orders.record import OrderRecord, without_tip
from basketpay.orders.schemas import ItemEventIn

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
            self.after_change(outbox)
            outbox.emit("order.updated")
        return outbox.record

    def after_change(self, outbox: Outbox) -> None:
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
