"""The demo's view of the API: timed requests, one fresh Idempotency-Key per POST, and the
checks every scenario shares. A check that fails raises `ScenarioFailed`, which the runner
records against the scenario instead of stopping the batch."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable
from typing import Any

import httpx

SUCCESS_STATUS = 200
DECLINE_STATUS = 402
MISMATCH_STATUS = 422


class ScenarioFailed(Exception):
    """The API answered, but not as a correct payments platform would."""


class DemoClient:
    """An `httpx.AsyncClient` that records the latency of every call it makes."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self.latencies_ms: list[float] = []

    async def post(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        # A real client would keep this key to retry the same request after a timeout.
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        return await self._timed(self._http.post(path, json=body, headers=headers))

    async def get(self, path: str) -> httpx.Response:
        return await self._timed(self._http.get(path))

    async def post_csv(self, path: str, name: str, content: bytes) -> httpx.Response:
        """A file as the request body (a settlement file upload)."""
        return await self._timed(self._http.post(path, params={"name": name}, content=content,
                                                 headers={"Content-Type": "text/csv"}))

    async def _timed(self, request: Awaitable[httpx.Response]) -> httpx.Response:
        started = time.perf_counter()
        try:
            return await request
        finally:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)

    async def card(self, number: str) -> str:
        card = {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
        method = expect_status(await self.post("/v1/payment_methods", {"type": "card", "card": card}))
        return str(method["id"])


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)


def expect_status(response: httpx.Response, status: int = SUCCESS_STATUS) -> dict[str, Any]:
    request = f"{response.request.method} {response.request.url.path}"
    if response.status_code != status:
        raise ScenarioFailed(f"{request}: expected HTTP {status}, got {response.status_code}: {_error(response)}")
    try:
        body = response.json()
    except ValueError as error:
        raise ScenarioFailed(f"{request}: the response is not JSON") from error
    expect(isinstance(body, dict), f"{request}: the response is not a JSON object")
    return body  # type: ignore[no-any-return]


def expect_intent(intent: dict[str, Any], status: str, **amounts: int) -> dict[str, Any]:
    """Check the intent's status, the amounts given, and that its amounts add up."""
    label = intent.get("id", "payment intent")
    expect(intent.get("status") == status, f"{label}: status {intent.get('status')!r}, expected {status!r}")
    for field, expected in amounts.items():
        expect(intent.get(field) == expected, f"{label}: {field} is {intent.get(field)}, expected {expected}")
    authorized, capturable = intent["amount_authorized"], intent["amount_capturable"]
    received, refunded = intent["amount_received"], intent["amount_refunded"]
    expect(min(authorized, capturable, received, refunded) >= 0, f"{label}: a negative amount")
    expect(received + capturable <= authorized, f"{label}: received + capturable exceeds authorized")
    expect(refunded <= received, f"{label}: refunded exceeds received")
    return intent


def failure_reason(error: Exception) -> str:
    """What to report for a scenario that raised: a failed check says what it expected; anything
    else it ran into (a timeout, a malformed body) is named by its type."""
    return str(error) if isinstance(error, ScenarioFailed) else f"{type(error).__name__}: {error}"


def _error(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"{error.get('code')}: {error.get('message')}"
    except (ValueError, AttributeError):
        return response.text[:200]
