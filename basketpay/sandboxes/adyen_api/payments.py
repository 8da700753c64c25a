"""A sandbox payment's state and the rules Adyen applies to modifications of it.

Amounts are minor units. The invariant, checked after every change:
0 <= refunded <= captured <= authorised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from basketpay.invariant import invariant
from basketpay.sandboxes.adyen_api.results import Outcome

ModificationKind = Literal["captures", "cancels", "refunds", "amountUpdates"]

MODIFICATION_KINDS: dict[str, ModificationKind] = {
    "captures": "captures", "cancels": "cancels", "refunds": "refunds", "amountUpdates": "amountUpdates",
}

EVENT_CODES: dict[ModificationKind, str] = {
    "captures": "CAPTURE",
    "cancels": "CANCELLATION",
    "refunds": "REFUND",
    "amountUpdates": "AUTHORISATION_ADJUSTMENT",
}


@dataclass(frozen=True, slots=True)
class Modification:
    psp_reference: str
    kind: ModificationKind
    reference: str | None
    amount_minor: int | None
    success: bool
    reason: str


@dataclass(slots=True)
class Payment:
    psp_reference: str
    merchant_account: str
    merchant_reference: str
    currency: str
    brand: str
    last4: str
    outcome: Outcome
    requested_minor: int
    authorised_minor: int
    manual_capture: bool
    preauth: bool
    funding: str = "credit"  # "debit" or "credit": interchange depends on it
    captured_minor: int = 0
    refunded_minor: int = 0
    cancelled: bool = False
    modifications: list[Modification] = field(default_factory=list)

    def check(self) -> None:
        invariant(
            0 <= self.refunded_minor <= self.captured_minor <= self.authorised_minor,
            f"payment {self.psp_reference}: refunded <= captured <= authorised must hold",
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "pspReference": self.psp_reference, "merchantAccount": self.merchant_account,
            "merchantReference": self.merchant_reference, "resultCode": self.outcome.result_code,
            "refusalReason": self.outcome.refusal_reason, "currency": self.currency, "brand": self.brand,
            "last4": self.last4, "authorisedValue": self.authorised_minor, "capturedValue": self.captured_minor,
            "refundedValue": self.refunded_minor, "cancelled": self.cancelled,
            "manualCapture": self.manual_capture, "preAuth": self.preauth,
            "modifications": [
                {"pspReference": m.psp_reference, "type": m.kind, "reference": m.reference,
                 "value": m.amount_minor, "success": m.success, "reason": m.reason}
                for m in self.modifications
            ],
        }


def refusal(payment: Payment, kind: ModificationKind, amount_minor: int | None, currency: str | None) -> str | None:
    """Why Adyen would refuse this modification, or None when it succeeds."""
    if not payment.outcome.authorised:
        return "Original payment was not authorised"
    if payment.cancelled:
        return "Payment has been cancelled"
    if currency is not None and currency != payment.currency:
        return f"Currency {currency} does not match the payment currency {payment.currency}"
    value = amount_minor or 0
    if kind == "captures" and value > payment.authorised_minor - payment.captured_minor:
        return "Capture amount exceeds the authorised amount not yet captured"
    if kind == "cancels" and payment.captured_minor > 0:
        return "Payment has already been captured"
    if kind == "refunds" and value > payment.captured_minor - payment.refunded_minor:
        return "Refund amount exceeds the captured amount not yet refunded"
    if kind == "amountUpdates":
        if not payment.preauth:
            return "Payment is not a pre-authorisation (authorisationType PreAuth)"
        if value < payment.captured_minor:
            return "New amount is below the amount already captured"
    return None


def apply(payment: Payment, kind: ModificationKind, amount_minor: int | None) -> None:
    """Apply a modification that `refusal` allowed."""
    value = amount_minor or 0
    if kind == "captures":
        payment.captured_minor += value
    elif kind == "cancels":
        payment.cancelled = True
    elif kind == "refunds":
        payment.refunded_minor += value
    else:
        payment.authorised_minor = value
    payment.check()
