"""Outbound delivery, at least once: the dispatcher fans each new outbox event out to
the merchant's endpoints that want it (one delivery row per endpoint and event), and
the deliverer POSTs due deliveries, signed, retrying on anything but a 2xx on a fixed
schedule with jitter that spans more than 24 hours, then gives up (`failed`, kept in
the log and replayable). Rows are claimed with SKIP LOCKED: several processes can run
this at once without sending one delivery twice at the same time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog

from basketpay.db.database import Database
from basketpay.webhooks.signing import signature_header

log = structlog.get_logger(__name__)

# After the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 10 h (about 37.6 h in all).
RETRY_SCHEDULE_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000, 36000)
JITTER = 0.1
ERROR_LENGTH_MAX = 500

_DISPATCH = """
WITH published AS (
    UPDATE events SET published_at = now()
    WHERE id IN (SELECT id FROM events WHERE published_at IS NULL ORDER BY seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    RETURNING id, merchant_id, type
)
INSERT INTO webhook_deliveries (id, merchant_id, endpoint_id, event_id, next_attempt_at)
SELECT 'whd_' || md5(e.id || w.id), e.merchant_id, w.id, e.id, now()
FROM published e JOIN webhook_endpoints w ON w.merchant_id = e.merchant_id AND w.status = 'enabled'
     AND (e.type = ANY(w.enabled_events) OR '*' = ANY(w.enabled_events))
ON CONFLICT (endpoint_id, event_id) DO NOTHING"""
_DUE = """
SELECT d.id, d.attempts, d.event_id, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at,
       e.type, e.data, e.created_at
FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN events e ON e.id = d.event_id
WHERE d.status = 'pending' AND d.next_attempt_at <= now()
ORDER BY d.next_attempt_at LIMIT %(limit)s FOR UPDATE OF d SKIP LOCKED"""
_LEASE = "UPDATE webhook_deliveries SET next_attempt_at = now() + %(lease)s WHERE id = ANY(%(ids)s)"
_RECORD = """
WITH attempt AS (
    INSERT INTO webhook_attempts (delivery_id, status_code, error, latency_ms)
    VALUES (%(id)s, %(status_code)s, %(error)s, %(latency_ms)s)
)
UPDATE webhook_deliveries SET attempts = attempts + 1, status = %(status)s, next_attempt_at = %(next_attempt_at)s,
    last_status_code = %(status_code)s, last_error = %(error)s, delivered_at = %(delivered_at)s
WHERE id = %(id)s"""


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    latency_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def payload(row: Any) -> bytes:
    return orjson.dumps({"id": row.event_id, "type": row.type, "created": int(row.created_at.timestamp()),
                         "data": row.data})


def secrets_for(row: Any, now: dt.datetime) -> list[str]:
    overlapping = row.previous_secret is not None and (row.previous_secret_expires_at or now) > now
    return [row.secret, row.previous_secret] if overlapping else [row.secret]


def next_attempt(attempts_done: int, now: dt.datetime) -> dt.datetime | None:
    """When to try again after `attempts_done` failed tries; None once the schedule is spent."""
    if attempts_done > len(RETRY_SCHEDULE_SECONDS):
        return None
    delay = RETRY_SCHEDULE_SECONDS[attempts_done - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    return now + dt.timedelta(seconds=delay)


class Deliverer:
    def __init__(self, database: Database, timeout_ms: int, batch_size_max: int, schedule_scale: float = 1.0) -> None:
        self._database = database
        self._timeout_seconds = timeout_ms / 1000
        self._batch = batch_size_max
        self._scale = schedule_scale  # tests shrink the retry schedule
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(self._timeout_seconds), follow_redirects=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def dispatch(self) -> None:
        async with self._database.connection() as connection:
            await connection.execute(_DISPATCH, {"limit": self._batch})

    async def deliver_due(self) -> int:
        async with self._database.transaction() as connection:
            due = await (await connection.execute(_DUE, {"limit": self._batch})).fetchall()
            # Leased past the request timeout, so no other process picks them up meanwhile.
            lease = dt.timedelta(seconds=self._timeout_seconds * 2 + 5)
            await connection.execute(_LEASE, {"lease": lease, "ids": [row.id for row in due]})
        await asyncio.gather(*(self._deliver(row) for row in due))
        return len(due)

    async def _deliver(self, row: Any) -> None:
        outcome = await self._post(row)
        now = dt.datetime.now(dt.UTC)
        retry_at = None if outcome.succeeded else next_attempt(row.attempts + 1, now)
        if retry_at is not None:
            retry_at = now + (retry_at - now) * self._scale
        status = "succeeded" if outcome.succeeded else ("pending" if retry_at is not None else "failed")
        async with self._database.connection() as connection:
            await connection.execute(_RECORD, {
                "id": row.id, "status_code": outcome.status_code, "error": outcome.error,
                "latency_ms": outcome.latency_ms, "status": status, "next_attempt_at": retry_at,
                "delivered_at": now if outcome.succeeded else None,
            })
        if status == "failed":
            log.warning("webhook_delivery_failed", delivery_id=row.id, attempts=row.attempts + 1)

    async def _post(self, row: Any) -> Outcome:
        body = payload(row)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json", "webhook-id": row.event_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets_for(row, dt.datetime.now(dt.UTC)), row.event_id,
                                                  timestamp, body),
        }
        started = time.perf_counter()
        try:
            response = await self._http.post(row.url, content=body, headers=headers)
        except httpx.HTTPError as failure:
            return Outcome(None, type(failure).__name__[:ERROR_LENGTH_MAX], int((time.perf_counter() - started) * 1000))
        latency = int((time.perf_counter() - started) * 1000)
        refused = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return Outcome(response.status_code, refused, latency)

    async def run_forever(self, stop: asyncio.Event, interval_seconds: float) -> None:
        while not stop.is_set():
            try:
                await self.dispatch()
                await self.deliver_due()
            except Exception:
                log.exception("webhook_delivery_pass_failed")
            try:
                await asyncio.wait_for(stop.wait(), interval_seconds)
            except TimeoutError:
                pass

