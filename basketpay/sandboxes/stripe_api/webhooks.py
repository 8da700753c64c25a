"""Webhook delivery: Stripe `event` objects POSTed to the configured URL, signed as
Stripe signs them (`Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of "t.payload">`), so
`stripe.Webhook.construct_event` accepts them. Delivered in the background, in order,
by one task; a full queue drops events (the sandbox must not grow without bound).
The webhook faults (basketpay/sandboxes/faults.py) delay, duplicate or reorder them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from basketpay.ids import new_id
from basketpay.sandboxes.faults import Faults, take_deliveries
from basketpay.sandboxes.stripe_api.store import StripeSandboxConfig

API_VERSION = "2025-09-30.clover"  # the version the sandbox's shapes follow
DELIVERY_ATTEMPTS_MAX = 3
DELIVERY_BACKOFF_MS = 200


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(event_type: str, obj: dict[str, Any], request_id: str, idempotency_key: str | None) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }


class WebhookSender:
    def __init__(self, config: StripeSandboxConfig, faults: Faults | None = None) -> None:
        self.config = config
        self.faults = faults or Faults()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=config.webhook_queue_max)
        self.dropped_count = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.config.webhook_url and self.config.webhook_secret)

    def enqueue(self, events: list[dict[str, Any]]) -> None:
        if not self.enabled:
            return
        for item in events:
            try:
                self.queue.put_nowait(item)
            except asyncio.QueueFull:
                self.dropped_count += 1

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self.config.webhook_timeout_ms / 1000) as client:
            while True:
                for item in await take_deliveries(self.queue, self.faults):
                    await self.faults.webhook_hold()
                    for _ in range(self.faults.copies()):
                        await self._deliver(client, item)

    async def _deliver(self, client: httpx.AsyncClient, item: dict[str, Any]) -> None:
        url, secret = self.config.webhook_url or "", self.config.webhook_secret or ""
        payload = json.dumps(item).encode()
        for attempt in range(DELIVERY_ATTEMPTS_MAX):
            headers = {"Content-Type": "application/json", "Stripe-Signature": sign(payload, secret, int(time.time()))}
            try:
                response = await client.post(url, content=payload, headers=headers)
                if response.status_code < 300:
                    return
            except httpx.HTTPError:
                pass  # the receiver is down or slow: retry, then give up, as Stripe eventually does
            await asyncio.sleep(DELIVERY_BACKOFF_MS * (attempt + 1) / 1000)
