"""The error responses each kind of endpoint documents in the OpenAPI spec."""

from __future__ import annotations

from typing import Any

from basketpay.api.errors import ErrorBody

_DESCRIPTIONS = {
    400: "Invalid request: a parameter is missing, unknown, malformed or out of range (`param` names it).",
    401: "Missing, unknown or revoked API key.",
    402: "The processor declined or failed the operation (`code`, `decline_code`).",
    404: "No such object for this merchant.",
    409: "Illegal state transition, another operation in flight, or the same Idempotency-Key still running.",
    422: "The Idempotency-Key was used before with a different request.",
    429: "Rate limited; retry after the `Retry-After` seconds.",
    503: "A processor did not answer (or its answer is not known yet): retry with the same Idempotency-Key.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


READ = errors(400, 401, 404, 429)
WRITE = errors(400, 401, 404, 409, 422, 429)
PROCESSOR = {
    **errors(400, 401, 402, 404, 409, 422, 429, 503),
    202: {"description": "The processor's answer is not known yet: retry with the same key, or poll."},
}
