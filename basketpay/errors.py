"""Every error basketpay returns, in one hierarchy. Each maps to one HTTP status and the
Stripe-shaped body `{"error": {"type", "code", "decline_code", "message", "param"}}`::

    BasketpayError
    ├── InvalidRequest        400  invalid_request_error   bad parameter, malformed body
    ├── AuthenticationFailed  401  authentication_error    missing, unknown or revoked key
    ├── CardDeclined          402  card_error              the processor declined the card
    ├── NotFound              404  invalid_request_error   no such object for this merchant
    ├── Conflict              409  invalid_request_error   illegal state transition, operation in flight
    │   └── IdempotencyInProgress  409  idempotency_error  the same key is still being processed
    ├── IdempotencyMismatch   422  idempotency_error       same key, different request
    ├── RateLimited           429  rate_limit_error        too many requests for this merchant
    └── ProcessorUnavailable  503  api_error               a processor did not answer: retry, same key
"""

from __future__ import annotations

from typing import Any


class BasketpayError(Exception):
    status_code = 500
    error_type = "api_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error = {
            "type": self.error_type,
            "code": self.code,
            "decline_code": self.decline_code,
            "message": self.message,
            "param": self.param,
        }
        error.update(self.extra)
        return {"error": error}


class InvalidRequest(BasketpayError):
    status_code = 400
    error_type = "invalid_request_error"


class AuthenticationFailed(BasketpayError):
    status_code = 401
    error_type = "authentication_error"


class CardDeclined(BasketpayError):
    status_code = 402
    error_type = "card_error"


class NotFound(BasketpayError):
    status_code = 404
    error_type = "invalid_request_error"


class Conflict(BasketpayError):
    status_code = 409
    error_type = "invalid_request_error"


class IdempotencyInProgress(Conflict):
    error_type = "idempotency_error"


class IdempotencyMismatch(BasketpayError):
    status_code = 422
    error_type = "idempotency_error"


class RateLimited(BasketpayError):
    status_code = 429
    error_type = "rate_limit_error"


class ProcessorUnavailable(BasketpayError):
    """A processor did not answer, or its answer is not known yet: nothing is lost, and the
    same request again (same Idempotency-Key) carries on where this one stopped."""

    status_code = 503
    error_type = "api_error"
