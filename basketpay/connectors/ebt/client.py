"""The EBT processor client the order workflow uses: tokenize a card, ask its SNAP
balance (PIN entered), authorize, capture, cancel and refund, each POST with an
idempotency key derived by the caller (a workflow id and step), so a retried step is
answered from the processor's record instead of running twice.

Errors::

    EbtError
    ├── EbtDeclined      the processor refused it (insufficient_balance, invalid_pin, ...): final
    ├── EbtRejected      bad request or wrong state (4xx): final, nothing done
    └── EbtUnavailable   no definitive answer (timeout, 5xx, dropped reply): retry with the same key
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class EbtError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class EbtDeclined(EbtError):
    pass


class EbtRejected(EbtError):
    pass


class EbtUnavailable(EbtError):
    pass


@dataclass(frozen=True, slots=True)
class EbtPayment:
    id: str
    status: str  # authorized | captured | cancelled
    amount: int
    captured: int
    refunded: int

    @classmethod
    def of(cls, body: dict[str, Any]) -> EbtPayment:
        return cls(str(body["id"]), str(body["status"]), int(body["amount"]), int(body["captured"]),
                   int(body["refunded"]))


class EbtClient:
    def __init__(self, api_base: str, api_key: str, timeout_ms: int) -> None:
        self._http = httpx.AsyncClient(base_url=api_base, timeout=httpx.Timeout(timeout_ms / 1000),
                                       headers={"Authorization": f"Bearer {api_key}"})

    async def close(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            response = await self._http.post(path, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise EbtUnavailable("no_answer", type(error).__name__) from error
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 500 or not isinstance(answer, dict):
            raise EbtUnavailable("processor_error", f"HTTP {response.status_code}")
        if response.status_code >= 400:
            details = answer.get("error") or {}
            kind = EbtDeclined if response.status_code == 402 else EbtRejected
            raise kind(str(details.get("code", "error")), str(details.get("message", "")))
        return answer

    async def tokenize(self, card_number: str) -> str:
        return str((await self._post("/v1/payment_methods", {"card_number": card_number}))["id"])

    async def balance(self, payment_method: str, pin_token: str) -> int:
        answer = await self._post(f"/v1/payment_methods/{payment_method}/balance", {"pin_token": pin_token})
        return int(answer["snap"])

    async def authorize(self, *, idempotency_key: str, payment_method: str, amount: int, pin_token: str,
                        reference: str) -> EbtPayment:
        answer = await self._post("/v1/payments", {"payment_method": payment_method, "amount": amount,
                                                   "pin_token": pin_token, "reference": reference}, idempotency_key)
        if answer.get("status") == "declined":
            raise EbtDeclined(str(answer.get("decline_code") or "declined"), "The EBT authorization was declined.")
        return EbtPayment.of(answer)

    async def find_by_reference(self, reference: str) -> EbtPayment | None:
        """The latest authorized-or-later payment made with this reference, if any."""
        try:
            response = await self._http.get("/v1/payments", params={"reference": reference})
        except httpx.HTTPError as error:
            raise EbtUnavailable("no_answer", type(error).__name__) from error
        if response.status_code != 200:
            raise EbtUnavailable("processor_error", f"HTTP {response.status_code}")
        found = [item for item in response.json()["data"] if item["status"] != "declined"]
        return EbtPayment.of(found[0]) if found else None

    async def capture(self, *, idempotency_key: str, payment_id: str, amount: int) -> EbtPayment:
        return EbtPayment.of(await self._post(f"/v1/payments/{payment_id}/capture", {"amount": amount},
                                              idempotency_key))

    async def cancel(self, *, idempotency_key: str, payment_id: str) -> EbtPayment:
        return EbtPayment.of(await self._post(f"/v1/payments/{payment_id}/cancel", {}, idempotency_key))

    async def refund(self, *, idempotency_key: str, payment_id: str, amount: int) -> EbtPayment:
        return EbtPayment.of(await self._post(f"/v1/payments/{payment_id}/refunds", {"amount": amount},
                                              idempotency_key))
