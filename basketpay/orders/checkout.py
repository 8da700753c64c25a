"""Checkout: the order is split across its tenders and each is authorized, in the request
(the customer learns at once whether the card or the EBT card was declined, and the EBT
PIN never leaves memory). The order row is written first (status `authorizing`) with
what each tender will be asked for; every call is idempotent, so a retry of the request
with the same Idempotency-Key carries on where it stopped. If nobody retries, the relay
abandons the checkout and releases whatever was authorized.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from basketpay.connectors.ebt.client import EbtDeclined
from basketpay.errors import CardDeclined, Conflict, IdempotencyMismatch, InvalidRequest, NotFound
from basketpay.idempotency.keys import request_digest
from basketpay.ledger import chart
from basketpay.orders import repository
from basketpay.orders.basket import Basket, Line
from basketpay.orders.engine import OrderEngine
from basketpay.orders.holds import hold_amount
from basketpay.orders.reauthorization import schedule_reauthorization
from basketpay.orders.record import Authorization, OrderPolicy, OrderRecord, TenderState, TipState, item_charges
from basketpay.orders.schemas import OrderCreate, TenderIn
from basketpay.orders.tender_ops import order_key
from basketpay.orders.tenders import TENDER_ORDER, TenderKind, split
from basketpay.payments.phases import RequestContext
from basketpay.stored_value.service import credit_code, gift_card_code


def order_id_for(merchant_id: str, key: str) -> str:
    """Derived from the Idempotency-Key: a retried checkout names the same order."""
    return "ord_" + hashlib.sha256(f"{merchant_id}\0order\0{key}".encode()).hexdigest()[:24]


def _digest(params: OrderCreate) -> str:
    body = params.model_dump(mode="json")
    for tender in body["tenders"]:
        tender.pop("pin_token", None)
    return request_digest("POST", "/v1/orders", body).hex()


def basket_of(params: OrderCreate) -> Basket:
    ids = [line.id for line in params.lines]
    if len(ids) != len(set(ids)):
        raise InvalidRequest("Line ids must be unique within an order.", code="parameter_invalid", param="lines")
    names = [fee.name for fee in params.fees]
    if len(names) != len(set(names)):
        raise InvalidRequest("Fee names must be unique within an order.", code="parameter_invalid", param="fees")
    lines = tuple(Line(**line.model_dump()) for line in params.lines)
    return Basket(params.currency, lines, tuple((fee.name, fee.amount) for fee in params.fees), params.tip)


def _tender_id(tender: TenderIn) -> str:
    return f"gift_card:{tender.gift_card}" if tender.type == "gift_card" else tender.type


def _check_tenders(params: OrderCreate) -> None:
    ids = [_tender_id(tender) for tender in params.tenders]
    if len(ids) != len(set(ids)):
        raise InvalidRequest("At most one tender of each type (gift cards: each card once).",
                             code="parameter_invalid", param="tenders")
    if any(tender.type == "credit" for tender in params.tenders) and params.customer is None:
        raise InvalidRequest("A credit tender needs the customer whose credit it is.", param="customer")
    if params.tip and not any(tender.type == "card" for tender in params.tenders):
        raise InvalidRequest("A tip is charged to a card: add a card tender.", code="parameter_invalid", param="tip")


class Checkout:
    def __init__(self, engine: OrderEngine) -> None:
        self.engine = engine

    async def create(self, context: RequestContext, params: OrderCreate) -> tuple[int, OrderRecord]:
        if context.idempotency_key is None:
            raise InvalidRequest("Creating an order authorizes its tenders and needs an Idempotency-Key header.",
                                 code="idempotency_key_missing", param="Idempotency-Key")
        order_id = order_id_for(context.merchant_id, context.idempotency_key)
        digest = _digest(params)
        pins = {_tender_id(tender): tender.pin_token for tender in params.tenders if tender.pin_token}
        existing = await self._existing(context.merchant_id, order_id)
        if existing is not None:
            if existing.checkout_digest != digest:
                raise IdempotencyMismatch("This Idempotency-Key was used for a different order.",
                                          code="idempotency_key_reused")
            if existing.status != "authorizing":
                return _status_code(existing), existing
        else:
            existing = await self._insert(context.merchant_id, order_id, digest, params, pins)
        return await self.authorize(existing, pins)

    async def _existing(self, merchant_id: str, order_id: str) -> OrderRecord | None:
        async with self.engine.database.connection() as connection:
            try:
                return await repository.load(connection, merchant_id, order_id, lock=False)
            except NotFound:
                return None

    async def _policy(self, merchant_id: str) -> OrderPolicy:
        async with self.engine.database.connection() as connection:
            custom = await repository.policy_for(connection, merchant_id)
        return merged_policy(self.engine.default_policy(), custom or {})

    async def _insert(self, merchant_id: str, order_id: str, digest: str, params: OrderCreate,
                      pins: dict[str, str]) -> OrderRecord:
        basket = basket_of(params)
        _check_tenders(params)
        await self.engine.ensure_chart(merchant_id, params.currency)
        tenders = [await self._tender_state(merchant_id, params, tender) for tender in params.tenders]
        policy = await self._policy(merchant_id)
        await self._plan(merchant_id, tenders, basket, policy, pins)
        scheduled = None if params.scheduled_for is None else dt.datetime.fromtimestamp(params.scheduled_for, dt.UTC)
        record = OrderRecord(order_id, merchant_id, "authorizing", params.currency, params.customer, basket, basket,
                             tenders, policy, metadata=dict(params.metadata), checkout_digest=digest,
                             tip=TipState(amount=params.tip),
                             scheduled_for=None if scheduled is None else scheduled.isoformat())
        async with self.engine.database.transaction() as connection:
            await repository.insert(connection, record)
        return record

    async def _tender_state(self, merchant_id: str, params: OrderCreate, tender: TenderIn) -> TenderState:
        kind = TenderKind(tender.type)
        if kind is TenderKind.CARD:
            async with self.engine.database.connection() as connection:
                await self.engine.payments.vault.load(connection, merchant_id, str(tender.payment_method))
            return TenderState("card", kind, str(tender.payment_method))
        if kind is TenderKind.SNAP_EBT:
            return TenderState("snap_ebt", kind, str(tender.payment_method))
        owner = str(tender.gift_card if kind is TenderKind.GIFT_CARD else params.customer)
        account = chart.account_id(merchant_id, tender_code(kind, owner), params.currency)
        return TenderState(_tender_id(tender), kind, owner, account=account)

    async def _available(self, merchant_id: str, tender: TenderState, pins: dict[str, str]) -> int:
        if tender.kind is TenderKind.SNAP_EBT:
            try:
                return await self.engine.ebt.balance(tender.reference, pins[tender.id])
            except EbtDeclined as declined:
                raise CardDeclined("The EBT card was declined.", code="card_declined",
                                   decline_code=declined.code, param="tenders") from declined
        try:
            balance = await self.engine.ledger.balance(merchant_id, str(tender.account), None)
        except NotFound as error:
            raise InvalidRequest(f"No {tender.kind.value.replace('_', ' ')} {tender.reference!r} in this currency.",
                                 code="resource_missing", param="tenders") from error
        return int(balance["available"])

    async def _plan(self, merchant_id: str, tenders: list[TenderState], basket: Basket, policy: OrderPolicy,
                    pins: dict[str, str]) -> None:
        """Set what each tender will be asked for: its share of the estimate (the card: its hold)."""
        for tender in tenders:
            if tender.kind is not TenderKind.CARD:
                tender.authorized = await self._available(merchant_id, tender, pins)
        result = split(item_charges(basket), [tender.as_tender() for tender in tenders])
        if result.unpaid:
            raise CardDeclined("The tenders cannot pay for this order: add a card.", code="tenders_insufficient",
                               param="tenders")
        totals = result.tender_totals()
        for tender in tenders:
            share = totals.get(tender.id, 0)
            tender.authorized = (hold_amount(share, basket.currency, policy.holds) if tender.kind is TenderKind.CARD
                                 else share)
        tenders.sort(key=lambda tender: TENDER_ORDER.index(tender.kind))  # stable: gift cards as given
        if max(tender.authorized for tender in tenders) > self.engine.settings.amount_minor_max:
            raise InvalidRequest("This order is larger than any single payment may be.", code="amount_too_large",
                                 param="lines")

    # -- authorizing ---------------------------------------------------------------------------------
    async def authorize(self, record: OrderRecord, pins: dict[str, str]) -> tuple[int, OrderRecord]:
        done: list[tuple[TenderState, Authorization]] = []
        declined: tuple[str, str] | None = None
        for tender in record.tenders:
            if tender.authorized == 0:
                continue
            try:
                done.append((tender, await self._authorize_tender(record, tender, pins)))
            except _Declined as refusal:
                declined = (tender.id, refusal.code)
                break
        async with self.engine.change(record.id, record.merchant_id) as outbox:
            current = outbox.record
            if current.status != "authorizing":  # a concurrent retry finished it first
                outbox.changed = False
                return _status_code(current), current
            for tender, authorization in done:
                current.tender(tender.id).authorizations = [authorization]
            if declined is None:
                current.status = "authorized"
                outbox.emit("order.authorized")
                schedule_reauthorization(outbox, self.engine.settings.order_reauthorize_before_expiry_seconds)
            else:
                current.failure = {"code": "tender_declined", "tender": declined[0], "decline_code": declined[1]}
                current.status = "canceling"
                outbox.start("cancel")
        return _status_code(outbox.record), outbox.record

    async def _authorize_tender(self, record: OrderRecord, tender: TenderState, pins: dict[str, str]) -> Authorization:
        key = order_key(record.id, tender.id, "authorize")
        if tender.kind is TenderKind.CARD:
            result = await self.engine.cards.authorize(record.merchant_id, key, tender.authorized, record.currency,
                                                       tender.reference, record.customer, record.id, off_session=False)
            if result.declined:
                raise _Declined(result.declined)
            return Authorization(result.id, int(result.intent["amount_authorized"]),
                                 expires_at=result.intent.get("authorization_expires_at"))
        if tender.kind is TenderKind.SNAP_EBT:
            try:
                payment = await self.engine.ebt.authorize(key, tender.reference, tender.authorized, pins[tender.id],
                                                          f"{record.id}:snap_ebt")
            except EbtDeclined as refusal:
                raise _Declined(refusal.code) from refusal
            return Authorization(payment.id, payment.amount)
        try:
            hold_id = await self.engine.stored.hold(record.merchant_id, key, str(tender.account), record.currency,
                                                    tender.authorized, record.id)
        except Conflict as error:
            if error.code == "balance_insufficient":  # spent elsewhere since the balance was read
                raise _Declined("insufficient_funds") from error
            raise
        return Authorization(hold_id, tender.authorized)


class _Declined(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _status_code(record: OrderRecord) -> int:
    return 402 if record.failure is not None and record.status in ("canceling", "canceled", "failed") else 200


def merged_policy(default: OrderPolicy, custom: dict[str, Any]) -> OrderPolicy:
    return OrderPolicy(**{**{name: getattr(default, name) for name in default.__dataclass_fields__}, **custom})


def tender_code(kind: TenderKind, owner: str) -> str:
    return gift_card_code(owner) if kind is TenderKind.GIFT_CARD else credit_code(owner)
