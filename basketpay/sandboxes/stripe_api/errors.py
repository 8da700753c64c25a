"""Stripe's error object, as the sandbox sends it; the official SDK picks its exception
class from the HTTP status and `error.type`::

    StripeApiError
    ├── 400  invalid_request_error     bad or missing parameter (`param` names it)
    ├── 400  invalid_request_error     payment_intent_unexpected_state (intent attached)
    ├── 400  idempotency_error         same Idempotency-Key, different request
    ├── 401  invalid_request_error     missing or non-test API key
    ├── 402  card_error                the test card declined (`decline_code`, intent attached)
    └── 404  invalid_request_error     resource_missing
"""

from __future__ import annotations

from typing import Any

IDEMPOTENCY_MISMATCH_MESSAGE = (
    "Keys for idempotent requests can only be used with the same parameters they were first used with. "
    "Try using a key other than '{key}' if you meant to execute a different request."
)


class StripeApiError(Exception):
    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        # Stripe omits absent fields rather than sending nulls.
        for name, value in (("code", self.code), ("param", self.param), ("decline_code", self.decline_code)):
            if value is not None:
                error[name] = value
        error.update(self.extra)
        return {"error": error}


def invalid_param(param: str, message: str, code: str = "parameter_invalid") -> StripeApiError:
    return StripeApiError(400, message, code=code, param=param)


def missing_param(param: str) -> StripeApiError:
    return StripeApiError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def resource_missing(kind: str, object_id: str, param: str) -> StripeApiError:
    return StripeApiError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def unexpected_state(action: str, intent: dict[str, Any]) -> StripeApiError:
    message = (
        f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}."
    )
    return StripeApiError(
        400, message, code="payment_intent_unexpected_state", extra={"payment_intent": intent}
    )


def authentication_failed(message: str) -> StripeApiError:
    return StripeApiError(401, message)


def idempotency_mismatch(key: str) -> StripeApiError:
    return StripeApiError(400, IDEMPOTENCY_MISMATCH_MESSAGE.format(key=key), error_type="idempotency_error")
