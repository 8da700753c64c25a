"""Adyen's answers as `ProcessorResult`s. Conservative: only an explicit Authorised,
Refused or Error maps to a definitive outcome; anything else is UNKNOWN.

    /payments resultCode
    ├── Authorised            SUCCEEDED (pspReference, amount)
    ├── Refused               DECLINED, decline code from refusalReason (+ refusalReasonRaw)
    ├── Error                 DECLINED processing_error (the acquirer failed; the customer may retry)
    └── anything else         UNKNOWN (Pending, Received, RedirectShopper, …, malformed)
    modifications             201 "received": UNKNOWN until the webhook reports the outcome
    HTTP errors
    ├── 401, 403              FAILED processor_authentication_failed
    ├── 422 errorCode 704     UNKNOWN idempotency_error (key reused with another body)
    ├── 400, 404, 422         FAILED adyen_<errorCode> (Adyen rejected it without processing)
    └── 5xx, 429, other       UNKNOWN
    no answer (timeout, refused, reset)   UNKNOWN
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from basketpay.connectors.adyen.refusals import REFUSALS
from basketpay.connectors.base import Outcome, ProcessorResult, safe_message, unknown
from basketpay.connectors.sandbox.cards import DECLINES, Decline

logger = logging.getLogger(__name__)

_DECLINES_BY_CODE: dict[str, Decline] = {decline.decline_code: decline for decline in DECLINES.values()}
_GENERIC = _DECLINES_BY_CODE["generic_decline"]
_FAILED_STATUSES = (400, 404, 422)


def _raw_code(raw: str | None) -> str | None:
    """"41 : Lost card" -> "41": the acquirer's response code, the part that tells lost from stolen."""
    return raw.split(":", 1)[0].strip() if raw else None


# The sandbox's one table (basketpay decline code -> Adyen refusal), inverted. Adyen folds
# several decline codes into one refusalReason ("Blocked Card"), so the raw code decides.
_BY_REASON: dict[str, list[tuple[str | None, str]]] = {}
for _code, _refusal in REFUSALS.items():
    if _refusal.refusal_reason is not None:
        _BY_REASON.setdefault(_refusal.refusal_reason, []).append((_raw_code(_refusal.refusal_reason_raw), _code))


def decline_code_for(refusal_reason: str | None, refusal_reason_raw: str | None) -> str:
    candidates = _BY_REASON.get(refusal_reason or "", [])
    if len(candidates) == 1:
        return candidates[0][1]
    raw = _raw_code(refusal_reason_raw)
    matching = [code for candidate_raw, code in candidates if candidate_raw == raw]
    return matching[0] if len(matching) == 1 else "generic_decline"


def _text(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value else None


def _amount_matches(obj: Mapping[str, Any], amount: int, currency: str) -> bool:
    wire = obj.get("amount")
    return isinstance(wire, Mapping) and wire.get("value") == amount and wire.get("currency") == currency


def _conflicts(body: Mapping[str, Any], amount: int, currency: str, reference: str) -> bool:
    """An answer about another request: a different amount, or another merchantReference."""
    amount_conflicts = "amount" in body and not _amount_matches(body, amount, currency)
    return amount_conflicts or body.get("merchantReference", reference) != reference


def _declined(decline_code: str, reference: str, amount: int) -> ProcessorResult:
    # A code without a test card of its own (do_not_honor, try_again_later, …) keeps its name:
    # routing retries soft declines elsewhere, and a generic decline would hide that it is one.
    decline = _DECLINES_BY_CODE.get(decline_code) or Decline(_GENERIC.error_code, decline_code, _GENERIC.message)
    return ProcessorResult(Outcome.DECLINED, reference, amount, decline.error_code, decline.decline_code,
                           decline.message)


def decline_result(refusal_reason: str | None, refusal_reason_raw: str | None, reference: str, amount: int) -> ProcessorResult:
    """A refusal as basketpay's decline (from a /payments answer or an AUTHORISATION notification)."""
    return _declined(decline_code_for(refusal_reason, refusal_reason_raw), reference, amount)


def authorization(body: Mapping[str, Any], amount: int, currency: str, request_reference: str) -> ProcessorResult:
    reference, result_code = _text(body, "pspReference"), _text(body, "resultCode")
    if reference is None or _conflicts(body, amount, currency, request_reference):
        return _unexpected("authorize", reference, result_code)
    if result_code == "Authorised" and _amount_matches(body, amount, currency):  # never a partial authorization
        return ProcessorResult(Outcome.SUCCEEDED, reference, amount)
    if result_code == "Error":
        return _declined("processing_error", reference, amount)
    if result_code == "Refused":
        additional = body.get("additionalData")
        raw = _text(additional, "refusalReasonRaw") if isinstance(additional, Mapping) else None
        return _declined(decline_code_for(_text(body, "refusalReason"), raw), reference, amount)
    return _unexpected("authorize", reference, result_code)


def modification(body: Mapping[str, Any], what: str, payment_reference: str) -> ProcessorResult:
    """Adyen only acknowledges a modification; its outcome comes by webhook. The result carries
    the modification's own pspReference, which the webhook reports as its pspReference."""
    reference, status = _text(body, "pspReference"), _text(body, "status")
    if reference is None or status != "received" or _text(body, "paymentPspReference") != payment_reference:
        return _unexpected(what, reference, status)
    return ProcessorResult(Outcome.UNKNOWN, reference, message="received")


def technical_cancel(body: Mapping[str, Any], payment_reference: str) -> ProcessorResult:
    """`received` for the reference asked about: Adyen will cancel whatever carries it."""
    reference, status = _text(body, "pspReference"), _text(body, "status")
    if reference is None or status != "received" or _text(body, "paymentReference") != payment_reference:
        return _unexpected("technical cancel", reference, status)
    return ProcessorResult(Outcome.SUCCEEDED, reference, message="received")


def _unexpected(what: str, reference: str | None, status: str | None) -> ProcessorResult:
    # Only the reference and status: the rest of an answer may carry card or shopper details.
    logger.warning("adyen %s: unexpected or malformed answer for %s (status %s)", what, reference, status)
    return unknown(f"Adyen answered {what} with {status}.", reference)


def from_error_status(status_code: int, body: Mapping[str, Any] | None) -> ProcessorResult:
    """A non-success HTTP answer; see the module docstring for the map."""
    if status_code in (401, 403):
        return ProcessorResult(Outcome.FAILED, error_code="processor_authentication_failed",
                               message="Adyen rejected the API key.")
    error_code = _text(body, "errorCode") if body is not None else None
    message = safe_message(_text(body, "message")) if body is not None else None
    if status_code == 422 and error_code == "704":
        # The key did something once: this refusal says nothing about whether that was done.
        return ProcessorResult(Outcome.UNKNOWN, error_code="idempotency_error", message=message)
    if status_code in _FAILED_STATUSES and error_code is not None:
        return ProcessorResult(Outcome.FAILED, error_code=f"adyen_{error_code}", message=message)
    logger.warning("adyen call failed without a definitive answer: HTTP %s (errorCode %s)", status_code, error_code)
    return unknown(f"No definitive answer from Adyen (HTTP {status_code}).")


def from_exception(error: BaseException) -> ProcessorResult:
    if isinstance(error, TimeoutError):
        return unknown("No answer from Adyen within the timeout.")
    logger.warning("adyen call failed without an answer: %s", type(error).__name__)
    return unknown(f"No answer from Adyen ({type(error).__name__}).")
