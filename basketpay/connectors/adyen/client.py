"""The HTTP client for Adyen's Checkout API: one POST helper that sends the API key and
the Idempotency-Key, bounds the whole call by `timeout_ms`, and hands back the status and
the decoded body (None when it is not a JSON object). Nothing here interprets an answer
(`transformers` does) and nothing here logs a request body: an authorization's body holds
the raw card number."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from typing import Any

import httpx

API_VERSION = "v71"


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    body: dict[str, Any] | None  # None: not a JSON object


def _decode(content: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class AdyenApi:
    """Raises httpx.HTTPError, OSError or TimeoutError when no answer arrived."""

    def __init__(self, api_base: str, api_key: str, timeout_ms: int) -> None:
        self._timeout_seconds = timeout_ms / 1000
        # Small requests on a kept-alive connection: Nagle's delay would only add latency.
        transport = httpx.AsyncHTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self._http = httpx.AsyncClient(
            base_url=f"{api_base.rstrip('/')}/{API_VERSION}", transport=transport,
            timeout=httpx.Timeout(self._timeout_seconds), headers={"X-API-Key": api_key},
        )

    async def post(self, path: str, idempotency_key: str, body: dict[str, Any]) -> Answer:
        # httpx bounds each phase (connect, write, read); this bounds the whole call.
        async with asyncio.timeout(self._timeout_seconds):
            response = await self._http.post(path, json=body, headers={"Idempotency-Key": idempotency_key})
        return Answer(response.status_code, _decode(response.content))

    async def close(self) -> None:
        await self._http.aclose()
