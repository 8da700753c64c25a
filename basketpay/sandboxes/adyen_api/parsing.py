"""Reading Adyen Checkout request bodies into typed values, rejecting what Adyen rejects
with its validation error codes (HTTP 422, errorType "validation")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from basketpay.money import MoneyError, currency_exponent
from basketpay.vault.cards import card_brand, luhn_valid

REFERENCE_LENGTH_MAX = 80
AMOUNT_MINOR_MAX = 10**12
SHOPPER_INTERACTIONS = frozenset({"Ecommerce", "ContAuth", "Moto", "POS"})


class ValidationFailed(Exception):
    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True, slots=True)
class Amount:
    value: int
    currency: str

    def wire(self) -> dict[str, Any]:
        return {"value": self.value, "currency": self.currency}


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    merchant_account: str
    reference: str
    amount: Amount
    card_number: str  # kept only until the outcome is decided; never stored
    expired: bool
    manual_capture: bool
    preauth: bool
    shopper_interaction: str


@dataclass(frozen=True, slots=True)
class ModificationRequest:
    merchant_account: str
    reference: str | None
    amount: Amount | None


def _required_text(body: dict[str, Any], field: str, code: str = "100") -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(code, f"Required field '{field}' is not provided.")
    return value


def parse_amount(value: Any) -> Amount:
    if not isinstance(value, dict):
        raise ValidationFailed("100", "Required field 'amount' is not provided.")
    minor, currency = value.get("value"), value.get("currency")
    # bool is an int subclass; true must not pass as an amount of 1.
    if type(minor) is not int or not 0 < minor <= AMOUNT_MINOR_MAX:
        raise ValidationFailed("137", "Invalid amount specified")
    if not isinstance(currency, str) or len(currency) != 3 or currency != currency.upper():
        raise ValidationFailed("138", "Unsupported currency specified")
    try:
        currency_exponent(currency)
    except MoneyError as error:
        raise ValidationFailed("138", "Unsupported currency specified") from error
    return Amount(minor, currency)


def _parse_card(method: Any, today: dt.date) -> tuple[str, bool]:
    """Return the card number and whether its expiry date has passed."""
    if not isinstance(method, dict) or method.get("type") != "scheme":
        raise ValidationFailed("100", "Required field 'paymentMethod.type' must be 'scheme'.")
    number = method.get("number")
    if not isinstance(number, str) or not number.isdigit() or not 12 <= len(number) <= 19:
        raise ValidationFailed("101", "Invalid card number")
    if not luhn_valid(number):
        raise ValidationFailed("101", "Invalid card number")
    month, year = str(method.get("expiryMonth", "")), str(method.get("expiryYear", ""))
    if not (month.isdigit() and 1 <= int(month) <= 12 and year.isdigit() and len(year) == 4):
        raise ValidationFailed("129", "Expiry Date Invalid")
    cvc = method.get("cvc")
    cvc_length = 4 if card_brand(number) == "amex" else 3
    if cvc is not None and (not isinstance(cvc, str) or not cvc.isdigit() or len(cvc) != cvc_length):
        raise ValidationFailed("103", "CVC is not the right length")
    return number, (int(year), int(month)) < (today.year, today.month)


def parse_payment(body: dict[str, Any], today: dt.date) -> PaymentRequest:
    merchant_account = _required_text(body, "merchantAccount", "901")
    reference = _required_text(body, "reference", "130")
    if len(reference) > REFERENCE_LENGTH_MAX:
        raise ValidationFailed("130", f"Reference is longer than {REFERENCE_LENGTH_MAX} characters")
    amount = parse_amount(body.get("amount"))
    number, expired = _parse_card(body.get("paymentMethod"), today)
    additional = body.get("additionalData") or {}
    if not isinstance(additional, dict):
        raise ValidationFailed("702", "additionalData must be an object of strings")
    delay_hours = body.get("captureDelayHours", 0)
    if type(delay_hours) is not int or delay_hours < 0:
        raise ValidationFailed("702", "captureDelayHours must be a non-negative integer")
    interaction = body.get("shopperInteraction", "Ecommerce")
    if interaction not in SHOPPER_INTERACTIONS:
        raise ValidationFailed("702", f"Invalid shopperInteraction: {interaction!r}")
    return PaymentRequest(
        merchant_account=merchant_account, reference=reference, amount=amount, card_number=number,
        expired=expired,
        # The sandbox never runs the delayed automatic capture, so a delay means "captured later,
        # by the merchant" here, exactly like manual capture.
        manual_capture=additional.get("manualCapture") == "true" or delay_hours > 0,
        preauth=additional.get("authorisationType") == "PreAuth",
        shopper_interaction=str(interaction),
    )


def parse_modification(body: dict[str, Any], amount_required: bool) -> ModificationRequest:
    merchant_account = _required_text(body, "merchantAccount", "901")
    reference = body.get("reference")
    if reference is not None and (not isinstance(reference, str) or len(reference) > REFERENCE_LENGTH_MAX):
        raise ValidationFailed("130", f"Reference must be a string of at most {REFERENCE_LENGTH_MAX} characters")
    amount = parse_amount(body.get("amount")) if amount_required else None
    return ModificationRequest(merchant_account, reference, amount)


@dataclass(frozen=True, slots=True)
class TechnicalCancelRequest:
    """POST /cancels: cancel a payment by the merchant's own reference (no pspReference)."""

    merchant_account: str
    payment_reference: str
    reference: str | None


def parse_technical_cancel(body: dict[str, Any]) -> TechnicalCancelRequest:
    modification = parse_modification(body, amount_required=False)
    payment_reference = _required_text(body, "paymentReference")
    if len(payment_reference) > REFERENCE_LENGTH_MAX:
        raise ValidationFailed("130", f"paymentReference must be at most {REFERENCE_LENGTH_MAX} characters")
    return TechnicalCancelRequest(modification.merchant_account, payment_reference, modification.reference)
