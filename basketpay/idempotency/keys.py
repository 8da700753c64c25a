"""Idempotency keys after brandur.org/idempotency-keys and the IETF draft.

A key has two recovery points: `started` and `finished` (the response is stored
for replay). Whether a started request got as far as the processor is told by the
attempt that names the key (`payment_attempts.idempotency_key`), written in the
same statement as everything else of phase one: no attempt, phase one never
happened; a pending attempt, the processor may have been called.
The fast path inserts the key inside phase one's single statement; a key seen
before takes the slow path, `claim`, which compares it with the request (different
method, path or body: 422), replays it if finished, refuses it while another
request holds its lease (409), and otherwise hands it over for resumption.
Validation errors raised in phase one write nothing, the key included.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import AsyncConnection

from basketpay.errors import IdempotencyInProgress, IdempotencyMismatch, InvalidRequest

KEY_LENGTH_MAX = 255
CLAIM_ATTEMPTS_MAX = 3  # a key can vanish between the insert and the lock (the sweeper drops it)
STARTED = "started"
FINISHED = "finished"


class KeySeen(Exception):
    """The Idempotency-Key was used before: replay, refuse or resume it under a lock."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: bytes


@dataclass(frozen=True, slots=True)
class ClaimedKey:
    recovery_point: str
    replay: StoredResponse | None = None


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """The key and the fingerprint of the request that presents it."""

    merchant_id: str
    key: str
    method: str
    path: str
    digest: bytes

    def where(self) -> dict[str, Any]:
        return {"merchant_id": self.merchant_id, "key": self.key}

    def new_row(self, now: dt.datetime, lease_seconds: float) -> dict[str, Any]:
        return {
            "merchant_id": self.merchant_id, "key": self.key, "request_method": self.method,
            "request_path": self.path, "request_digest": self.digest, "recovery_point": STARTED,
            "locked_until": now + dt.timedelta(seconds=lease_seconds), "created_at": now,
        }


def request_digest(method: str, path: str, body: object) -> bytes:
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).digest()


def validate_key(key: str) -> str:
    if not key or len(key) > KEY_LENGTH_MAX or not key.isprintable():
        raise InvalidRequest(
            f"Idempotency-Key must be 1 to {KEY_LENGTH_MAX} printable characters.",
            code="idempotency_key_invalid",
            param="Idempotency-Key",
        )
    return key


def finished(response: StoredResponse, now: dt.datetime) -> dict[str, Any]:
    return {
        "recovery_point": FINISHED, "response_status": response.status_code, "response_body": response.body,
        "locked_until": None, "finished_at": now,
    }


_INSERT = """
INSERT INTO idempotency_keys (merchant_id, key, request_method, request_path, request_digest,
                              recovery_point, locked_until)
VALUES (%(merchant_id)s, %(key)s, %(method)s, %(path)s, %(digest)s, 'started', now() + %(lease)s)
ON CONFLICT (merchant_id, key) DO NOTHING RETURNING id"""
_LOCK = "SELECT *, now() AS now FROM idempotency_keys WHERE merchant_id = %(merchant_id)s AND key = %(key)s FOR UPDATE"
_TAKE_LEASE = "UPDATE idempotency_keys SET locked_until = now() + %(lease)s WHERE id = %(id)s"


async def claim(connection: AsyncConnection[Any], request: KeyRequest, lease_seconds: float) -> ClaimedKey:
    """Inside a transaction: take the key (new, or one whose lease ran out), or refuse it."""
    params = {**request.where(), "method": request.method, "path": request.path, "digest": request.digest,
              "lease": dt.timedelta(seconds=lease_seconds)}
    for _ in range(CLAIM_ATTEMPTS_MAX):
        if await (await connection.execute(_INSERT, params)).fetchone() is not None:
            return ClaimedKey(STARTED)
        row = await (await connection.execute(_LOCK, params)).fetchone()
        if row is not None:
            return await _claim_existing(connection, request, row, params)
    raise IdempotencyInProgress(
        "This Idempotency-Key is changing hands; retry shortly.", code="idempotency_key_in_use",
        param="Idempotency-Key",
    )


async def _claim_existing(
    connection: AsyncConnection[Any], request: KeyRequest, row: Any, params: dict[str, Any]
) -> ClaimedKey:
    if (row.request_method, row.request_path, bytes(row.request_digest)) != (request.method, request.path, request.digest):
        raise IdempotencyMismatch(
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            code="idempotency_key_reused",
            param="Idempotency-Key",
        )
    if row.recovery_point == FINISHED:
        return ClaimedKey(FINISHED, StoredResponse(row.response_status, bytes(row.response_body)))
    if row.locked_until is not None and row.locked_until > row.now:
        raise IdempotencyInProgress(
            "A request with this Idempotency-Key is still being processed; retry later.",
            code="idempotency_key_in_use",
            param="Idempotency-Key",
        )
    await connection.execute(_TAKE_LEASE, {**params, "id": row.id})
    return ClaimedKey(row.recovery_point)


async def seen(connection: AsyncConnection[Any], request: KeyRequest) -> bool:
    row = await (await connection.execute(
        "SELECT 1 FROM idempotency_keys WHERE merchant_id = %(merchant_id)s AND key = %(key)s",
        {"merchant_id": request.merchant_id, "key": request.key})).fetchone()
    return row is not None


async def update(connection: AsyncConnection[Any], request: KeyRequest, values: dict[str, Any]) -> None:
    sets = ", ".join(f"{column} = %({column})s" for column in values)
    await connection.execute(
        f"UPDATE idempotency_keys SET {sets} WHERE merchant_id = %(w_merchant)s AND key = %(w_key)s",
        {**values, "w_merchant": request.merchant_id, "w_key": request.key},
    )


async def forget(connection: AsyncConnection[Any], request: KeyRequest) -> None:
    await connection.execute(
        "DELETE FROM idempotency_keys WHERE merchant_id = %(merchant_id)s AND key = %(key)s", request.where()
    )


_BY_ATTEMPT = "merchant_id = %(w_merchant)s AND key = %(w_key)s"


def _attempt_key(attempt: Any) -> dict[str, Any]:
    return {"w_merchant": attempt.merchant_id, "w_key": attempt.idempotency_key}


async def finish_for_attempt(
    connection: AsyncConnection[Any], attempt: Any, response: StoredResponse, now: dt.datetime
) -> None:
    values = finished(response, now)
    sets = ", ".join(f"{column} = %({column})s" for column in values)
    await connection.execute(f"UPDATE idempotency_keys SET {sets} WHERE {_BY_ATTEMPT}", {**values, **_attempt_key(attempt)})


async def release_attempt_lease(connection: AsyncConnection[Any], attempt: Any) -> None:
    """The outcome is still unknown: let a retry (or the sweeper) resume right away."""
    await connection.execute(f"UPDATE idempotency_keys SET locked_until = NULL WHERE {_BY_ATTEMPT}", _attempt_key(attempt))


async def forget_attempt(connection: AsyncConnection[Any], attempt: Any) -> None:
    """The processor never saw the attempt: drop its key so a retry starts afresh."""
    await connection.execute(f"DELETE FROM idempotency_keys WHERE {_BY_ATTEMPT}", _attempt_key(attempt))


async def lease_held(connection: AsyncConnection[Any], attempt: Any) -> bool:
    """Inside a transaction: lock the attempt's key and say whether a live request holds it."""
    query = f"SELECT locked_until > now() AS held FROM idempotency_keys WHERE {_BY_ATTEMPT} FOR UPDATE"
    row = await (await connection.execute(query, _attempt_key(attempt))).fetchone()
    return bool(row is not None and row.held)


async def expire_keys(connection: AsyncConnection[Any], ttl_hours: int, batch_size_max: int) -> int:
    """Delete finished keys older than the retention period, in bounded batches."""
    cursor = await connection.execute(
        """DELETE FROM idempotency_keys WHERE id IN (
               SELECT id FROM idempotency_keys
               WHERE recovery_point = 'finished' AND created_at < now() - %(ttl)s LIMIT %(limit)s)""",
        {"ttl": dt.timedelta(hours=ttl_hours), "limit": batch_size_max},
    )
    return cursor.rowcount
