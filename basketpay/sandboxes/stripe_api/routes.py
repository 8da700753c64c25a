"""The endpoint handlers: each reads its parameters, changes the store and returns a
`Result` (a body and the webhook events it caused). They run under the store's lock."""

from __future__ import annotations

from basketpay.ids import new_id
from basketpay.money import CURRENCY_EXPONENTS
from basketpay.sandboxes.behaviour import attached_behaviour
from basketpay.sandboxes.stripe_api import cards, intents, refunds, settlement
from basketpay.sandboxes.stripe_api.errors import invalid_param
from basketpay.sandboxes.stripe_api.forms import read_bool, read_int, read_str
from basketpay.sandboxes.stripe_api.handlers import (
    Call,
    Result,
    read_metadata,
    resolve_method,
    wants_incremental_authorization,
)
from basketpay.sandboxes.stripe_api.intents import PaymentIntent

CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")


def _intent_result(intent: PaymentIntent, events: list[str]) -> Result:
    body = intent.to_json()
    return Result(200, body, [(event, body) for event in events])


def _confirm(call: Call, intent: PaymentIntent) -> Result:
    events, declined = intents.confirm(intent, attached_behaviour(call.store))
    if intent.status == "succeeded":  # captured automatically on confirm
        settlement.record_capture(call.store, intent, intent.amount_received, True, call.now)
    result = _intent_result(intent, events)
    if declined is not None:
        result.status_code, result.body = declined.status_code, declined.body()
    return result


def create_intent(call: Call) -> Result:
    params = call.params
    amount = read_int(params, "amount", required=True) or 0
    currency = (read_str(params, "currency", required=True) or "").lower()
    if currency.upper() not in CURRENCY_EXPONENTS:
        raise invalid_param("currency", f"Invalid currency: {currency}.")
    intent = PaymentIntent(
        id=new_id("pi"), amount=amount, currency=currency, created=call.now,
        capture_method=read_str(params, "capture_method", choices=CAPTURE_METHODS) or "automatic",
        incremental_authorization=wants_incremental_authorization(params),
        metadata=read_metadata(params), description=read_str(params, "description"),
        customer=read_str(params, "customer"),
    )
    confirm = read_bool(params, "confirm", default=False)
    method = resolve_method(call)
    call.store.add_intent(intent)
    if method is not None:
        intents.attach(intent, method)
    return _confirm(call, intent) if confirm else _intent_result(intent, [])


def get_intent(call: Call) -> Result:
    return _intent_result(call.store.intent(call.path["id"]), [])


def update_intent(call: Call) -> Result:
    intent = call.store.intent(call.path["id"])
    intent.metadata = read_metadata(call.params, intent.metadata)
    intent.description = read_str(call.params, "description") or intent.description
    method = resolve_method(call)
    if method is not None:
        intents.attach(intent, method)
    return _intent_result(intent, [])


def confirm_intent(call: Call) -> Result:
    intent = call.store.intent(call.path["id"])
    method = resolve_method(call)
    if method is not None:
        intents.attach(intent, method)
    return _confirm(call, intent)


def capture_intent(call: Call) -> Result:
    intent = call.store.intent(call.path["id"])
    amount = read_int(call.params, "amount_to_capture")
    final_capture = read_bool(call.params, "final_capture", default=True)
    received_before = intent.amount_received
    events = intents.capture(intent, amount, final_capture)
    settlement.record_capture(call.store, intent, intent.amount_received - received_before, received_before == 0,
                              call.now)
    return _intent_result(intent, events)


def increment_intent(call: Call) -> Result:
    intent = call.store.intent(call.path["id"])
    amount = read_int(call.params, "amount", required=True) or 0
    return _intent_result(intent, intents.increment(intent, amount))


def cancel_intent(call: Call) -> Result:
    intent = call.store.intent(call.path["id"])
    reason = read_str(call.params, "cancellation_reason", choices=CANCELLATION_REASONS)
    return _intent_result(intent, intents.cancel(intent, reason, call.now))


def create_refund(call: Call) -> Result:
    intent_id = read_str(call.params, "payment_intent", required=True) or ""
    intent = call.store.intent(intent_id, param="payment_intent")
    amount = read_int(call.params, "amount")
    reason = read_str(call.params, "reason", choices=refunds.REFUND_REASONS)
    refund = refunds.refund(intent, amount, reason, read_metadata(call.params), call.now)
    call.store.add_refund(refund)
    settlement.record_refund(call.store, intent, refund)
    return Result(200, refund, [("charge.refunded", refunds.charge_json(intent, call.now))])


def get_refund(call: Call) -> Result:
    return Result(200, call.store.refund(call.path["id"]))


def create_payment_method(call: Call) -> Result:
    read_str(call.params, "type", required=True, choices=("card",))
    method = cards.from_card_params(call.params.get("card"), "card", call.now)
    call.store.add_method(method)
    return Result(200, method.to_json())


def get_payment_method(call: Call) -> Result:
    return Result(200, call.store.method(call.path["id"], param="id").to_json())
