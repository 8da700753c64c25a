"""Shared pieces of the endpoint handlers: the result type, metadata and payment-method
parameters, and the `pm_card_*` / `payment_method_data` resolution."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from basketpay.sandboxes.stripe_api import cards
from basketpay.sandboxes.stripe_api.cards import PaymentMethod
from basketpay.sandboxes.stripe_api.errors import invalid_param
from basketpay.sandboxes.stripe_api.forms import Params, read_dict, read_str
from basketpay.sandboxes.stripe_api.store import Store

METADATA_KEYS_MAX = 50  # Stripe's limits
METADATA_KEY_LENGTH_MAX = 40
METADATA_VALUE_LENGTH_MAX = 500


@dataclass(slots=True)
class Result:
    status_code: int
    body: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (event type, object)


@dataclass(frozen=True, slots=True)
class Call:
    store: Store
    params: Params
    path: dict[str, str]
    now: int  # unix seconds


Handler = Callable[[Call], Result]


def read_metadata(params: Params, current: dict[str, str] | None = None) -> dict[str, str]:
    """Merge as Stripe does: a key set to "" is removed; `metadata=""` clears everything."""
    if params.get("metadata") == "":
        return {}
    merged = dict(current or {})
    for key, value in read_dict(params, "metadata").items():
        if not isinstance(value, str):
            raise invalid_param(f"metadata[{key}]", "Metadata values must be strings.")
        if len(key) > METADATA_KEY_LENGTH_MAX or len(value) > METADATA_VALUE_LENGTH_MAX:
            raise invalid_param(f"metadata[{key}]", f"Metadata keys are at most {METADATA_KEY_LENGTH_MAX} "
                                f"characters and values at most {METADATA_VALUE_LENGTH_MAX}.")
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > METADATA_KEYS_MAX:
        raise invalid_param("metadata", f"Metadata has at most {METADATA_KEYS_MAX} keys.")
    return merged


def resolve_method(call: Call) -> PaymentMethod | None:
    """`payment_method` (an id or a `pm_card_*` test id) or `payment_method_data` (raw card)."""
    method_id = read_str(call.params, "payment_method")
    if method_id is not None:
        from_test_id = cards.from_test_id(method_id, call.now)
        if from_test_id is None:
            return call.store.method(method_id)
        call.store.add_method(from_test_id)
        return from_test_id
    data = read_dict(call.params, "payment_method_data")
    if not data:
        return None
    if data.get("type") != "card":
        raise invalid_param("payment_method_data[type]", "Only payment_method_data[type]=card is supported.")
    method = cards.from_card_params(data.get("card"), "payment_method_data[card]", call.now)
    call.store.add_method(method)
    return method


def wants_incremental_authorization(params: Params) -> bool:
    options = read_dict(params, "payment_method_options")
    card = options.get("card")
    requested = isinstance(card, dict) and card.get("request_incremental_authorization") == "if_available"
    return requested or params.get("request_incremental_authorization_support") == "true"
