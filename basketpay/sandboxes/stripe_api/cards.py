"""Payment methods in the sandbox: Stripe's `pm_card_*` test ids and raw card data.

The full card number is looked at once, to validate it and to find its test-card
outcome, then dropped: a stored payment method keeps only brand, BIN, last4 and expiry.
A card without a fixed outcome is answered at each confirmation by the sandbox's
behaviour model (sandboxes/behaviour.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from basketpay.connectors.sandbox.cards import DECLINES, Decline, decline_for
from basketpay.errors import InvalidRequest
from basketpay.ids import new_id
from basketpay.sandboxes.behaviour import Behaviour, card_bin, has_fixed_outcome
from basketpay.sandboxes.stripe_api.errors import StripeApiError, invalid_param
from basketpay.sandboxes.stripe_api.forms import Params, read_int, read_str
from basketpay.vault.cards import validate_card

# Stripe's test payment method ids and the test card each stands for.
TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
}
TEST_CARD_EXPIRY_YEARS = 3  # test ids carry no expiry; give them one safely in the future

# The behaviour model's decline codes in Stripe's words (error code, decline_code, message).
BEHAVIOUR_DECLINES: dict[str, Decline] = {
    "generic_decline": DECLINES["4000000000000002"],
    "do_not_honor": Decline("card_declined", "do_not_honor", "Your card was declined."),
    "try_again_later": Decline("card_declined", "try_again_later", "Your card was declined."),
    "issuer_not_available": Decline("card_declined", "issuer_not_available", "Your card was declined."),
    "processing_error": DECLINES["4000000000000119"],
}


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    created: int
    decline: Decline | None  # the outcome this card will produce; never shown to clients
    card_bin: str = ""  # what the behaviour model's BIN rates match against
    fixed_outcome: bool = True  # a test card: `decline` decides, the behaviour model is not asked

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "payment_method",
            "type": "card",
            "card": {
                "brand": self.brand,
                "last4": self.last4,
                "exp_month": self.exp_month,
                "exp_year": self.exp_year,
                "funding": "credit",
                "country": "US",
            },
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "customer": None,
            "metadata": {},
            "created": self.created,
            "livemode": False,
        }


def _build(number: str, exp_month: int, exp_year: int, cvc: str | None, now: int, param: str) -> PaymentMethod:
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    try:
        brand = validate_card(number, exp_month, exp_year, cvc, today)
    except InvalidRequest as error:
        # Stripe reports a bad card as a card_error (402), naming the field but never echoing it.
        field = (error.param or "card[number]").removeprefix("card")
        raise StripeApiError(
            402, error.message, error_type="card_error", code=error.code, param=f"{param}{field}"
        ) from None
    return PaymentMethod(new_id("pm"), brand, number[-4:], exp_month, exp_year, now, decline_for(number),
                         card_bin(number), has_fixed_outcome(number))


def decline_at_confirm(method: PaymentMethod, behaviour: Behaviour) -> Decline | None:
    """The decline this confirmation meets, if any: a test card's own, else a fresh draw."""
    if method.fixed_outcome:
        return method.decline
    code = behaviour.decide(method.card_bin)
    return None if code is None else BEHAVIOUR_DECLINES[code]


def from_test_id(test_id: str, now: int) -> PaymentMethod | None:
    number = TEST_PAYMENT_METHODS.get(test_id)
    if number is None:
        return None
    year = dt.datetime.fromtimestamp(now, dt.UTC).year + TEST_CARD_EXPIRY_YEARS
    return _build(number, 12, year, None, now, "payment_method")


def from_card_params(card: Any, param: str, now: int) -> PaymentMethod:
    """`param` is where the card sits in the request, e.g. `payment_method_data[card]`."""
    if not isinstance(card, dict):
        raise invalid_param(param, f"Invalid object: {param} must be a hash.")
    card_params: Params = card
    number = read_str(card_params, "number", required=True) or ""
    exp_month = read_int(card_params, "exp_month", required=True) or 0
    exp_year = read_int(card_params, "exp_year", required=True) or 0
    cvc = read_str(card_params, "cvc")
    return _build(number.replace(" ", ""), exp_month, exp_year, cvc, now, param)
