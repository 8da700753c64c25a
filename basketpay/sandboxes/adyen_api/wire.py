"""Adyen wire shapes the sandbox sends: /payments and modification responses, and the
NotificationRequestItems that report outcomes later."""

from __future__ import annotations

from typing import Any

from basketpay.sandboxes.adyen_api.notifications import notification_item
from basketpay.sandboxes.adyen_api.parsing import TechnicalCancelRequest
from basketpay.sandboxes.adyen_api.payments import EVENT_CODES, Modification, Payment


def _amount(value: int, currency: str) -> dict[str, Any]:
    return {"value": value, "currency": currency}


def payment_response(payment: Payment) -> dict[str, Any]:
    outcome = payment.outcome
    body: dict[str, Any] = {
        "pspReference": payment.psp_reference,
        "resultCode": outcome.result_code,
        "amount": _amount(payment.requested_minor, payment.currency),
        "merchantReference": payment.merchant_reference,
        "additionalData": {"cardSummary": payment.last4, "paymentMethod": payment.brand},
    }
    if outcome.refusal_reason is not None:
        body["refusalReason"] = outcome.refusal_reason
        body["refusalReasonCode"] = outcome.refusal_reason_code
        body["additionalData"]["refusalReasonRaw"] = outcome.refusal_reason_raw
    return body


def modification_response(payment: Payment, modification: Modification) -> dict[str, Any]:
    body: dict[str, Any] = {
        "merchantAccount": payment.merchant_account,
        "paymentPspReference": payment.psp_reference,
        "pspReference": modification.psp_reference,
        "status": "received",  # the outcome arrives later, by webhook
    }
    if modification.reference is not None:
        body["reference"] = modification.reference
    if modification.amount_minor is not None:
        body["amount"] = _amount(modification.amount_minor, payment.currency)
    return body


def authorisation_notification(payment: Payment, hmac_key_hex: str) -> dict[str, Any]:
    return notification_item(
        event_code="AUTHORISATION", success=payment.outcome.authorised, psp_reference=payment.psp_reference,
        original_reference=None, merchant_account=payment.merchant_account,
        merchant_reference=payment.merchant_reference, amount=_amount(payment.requested_minor, payment.currency),
        reason=payment.outcome.refusal_reason or "", hmac_key_hex=hmac_key_hex,
    )


def modification_notification(payment: Payment, modification: Modification, hmac_key_hex: str) -> dict[str, Any]:
    # A cancellation carries no amount of its own; Adyen reports the payment's amount.
    value = payment.authorised_minor if modification.amount_minor is None else modification.amount_minor
    # merchantReference is the reference the merchant gave the modification request (the
    # payment's own when it gave none): how the merchant finds what the notification answers.
    return notification_item(
        event_code=EVENT_CODES[modification.kind], success=modification.success,
        psp_reference=modification.psp_reference, original_reference=payment.psp_reference,
        merchant_account=payment.merchant_account,
        merchant_reference=modification.reference or payment.merchant_reference,
        amount=_amount(value, payment.currency), reason=modification.reason, hmac_key_hex=hmac_key_hex,
    )


def technical_cancel_response(psp_reference: str, request: TechnicalCancelRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "merchantAccount": request.merchant_account, "paymentReference": request.payment_reference,
        "pspReference": psp_reference, "status": "received",
    }
    if request.reference is not None:
        body["reference"] = request.reference
    return body


def technical_cancel_notification(psp_reference: str, request: TechnicalCancelRequest, payment: Payment | None,
                                  hmac_key_hex: str) -> dict[str, Any]:
    """Adyen reports a technical cancel as TECHNICAL_CANCEL, naming the payment it cancelled
    (originalReference) when there was one by then."""
    amount = _amount(payment.authorised_minor, payment.currency) if payment is not None else {}
    return notification_item(
        event_code="TECHNICAL_CANCEL", success=True, psp_reference=psp_reference,
        original_reference=payment.psp_reference if payment is not None else None,
        merchant_account=request.merchant_account, merchant_reference=request.reference or request.payment_reference,
        amount=amount, reason="", hmac_key_hex=hmac_key_hex,
    )
