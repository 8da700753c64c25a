"""Adyen standard webhooks: building a NotificationRequestItem, signing it the way Adyen
does (HMAC-SHA256 over eight colon-joined fields, key given in hex, base64 result), and
delivering it from a background task so a slow or failing receiver never blocks the API.

The signature itself is basketpay's Adyen connector's (connectors/adyen/hmac.py): one
implementation of Adyen's published algorithm, checked against Adyen's own vectors."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

import httpx

from basketpay.connectors.adyen.hmac import sign_notification, signing_string, verify_notification_hmac
from basketpay.sandboxes.adyen_api.config import AdyenSandboxConfig
from basketpay.sandboxes.faults import Faults, take_deliveries

__all__ = ["Notifier", "notification_item", "sign_notification", "signing_string", "verify_notification_hmac"]

log = logging.getLogger(__name__)


def notification_item(
    *, event_code: str, success: bool, psp_reference: str, original_reference: str | None,
    merchant_account: str, merchant_reference: str, amount: dict[str, Any], reason: str, hmac_key_hex: str,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "eventCode": event_code,
        "success": "true" if success else "false",
        "pspReference": psp_reference,
        "merchantAccountCode": merchant_account,
        "merchantReference": merchant_reference,
        "amount": amount,
        "eventDate": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "reason": reason,
    }
    if original_reference is not None:
        item["originalReference"] = original_reference
    item["additionalData"] = {"hmacSignature": sign_notification(item, hmac_key_hex)}
    return item


class Notifier:
    """One worker drains a bounded queue in order, so AUTHORISATION reaches the receiver
    before the CAPTURE of the same payment (unless the `webhook_reorder` fault is on); a
    full queue drops (and counts) notifications rather than slowing the API down."""

    def __init__(self, config: AdyenSandboxConfig, faults: Faults | None = None) -> None:
        self._config = config
        self._faults = faults or Faults()
        self._queue: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue(config.notification_queue_size_max)
        self._task: asyncio.Task[None] | None = None
        self.delivered_count = 0
        self.failed_count = 0
        self.dropped_count = 0

    def enqueue(self, item: dict[str, Any]) -> None:
        if self._config.webhook_url is None:
            return
        due = time.monotonic() + self._config.notification_delay_ms / 1000
        try:
            self._queue.put_nowait((due, item))
        except asyncio.QueueFull:
            self.dropped_count += 1
            log.warning("adyen sandbox notification queue full; dropped %s", item["pspReference"])

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        timeout = httpx.Timeout(self._config.notification_timeout_ms / 1000)
        async with httpx.AsyncClient(timeout=timeout) as client:
            while True:
                for due, item in await take_deliveries(self._queue, self._faults):
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    await self._faults.webhook_hold()
                    for _ in range(self._faults.copies()):
                        await self._deliver(client, item)

    async def _deliver(self, client: httpx.AsyncClient, item: dict[str, Any]) -> None:
        url = self._config.webhook_url
        if url is None:  # enqueue() accepts nothing without a URL; this only narrows the type
            return
        body = {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}
        for attempt in range(self._config.notification_attempts_max):
            try:
                response = await client.post(url, json=body)
                if response.is_success:
                    self.delivered_count += 1
                    return
            except httpx.HTTPError as error:
                log.info("adyen sandbox webhook attempt %d failed: %s", attempt + 1, error)
            await asyncio.sleep(self._config.notification_backoff_ms * 2**attempt / 1000)
        self.failed_count += 1
        log.warning("adyen sandbox gave up delivering %s", item["pspReference"])
