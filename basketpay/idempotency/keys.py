"""Idempotency keys after brandur.org/idempotency-keys and the IETF draft.

A request takes its key in the first atomic phase (`claim`): a new key starts at
recovery point `started`; a key seen before is compared with the request
(different method, path or body: 422), replayed if finished, refused while another
request holds its lease (409), and otherwise resumed from its recovery point by
the request that now holds the lease. Validation errors raised inside the first
phase roll the key back with everything else: nothing is written for bad input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from basketpay.errors import IdempotencyInProgress, IdempotencyMismatch, InvalidRequest
from basketpay.idempotency.tables import idempotency_keys

KEY_LENGTH_MAX = 255
CLAIM_ATTEMPTS_MAX = 3  # a key can vanish between the insert and the lock (the sweeper drops it)
STARTED = "started"
ATTEMPT_STARTED = "attempt_started"
FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: bytes


@dataclass(frozen=True, slots=True)
class ClaimedKey:
    id: int
    recovery_point: str
    attempt_id: str | None
    replay: StoredResponse | None = None


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


async def claim(
    connection: AsyncConnection, merchant_id: str, key: str, method: str, path: str, digest: bytes,
    lease_seconds: float,
) -> ClaimedKey:
    lease = dt.timedelta(seconds=lease_seconds)
    for _ in range(CLAIM_ATTEMPTS_MAX):
        inserted = await connection.scalar(
            insert(idempotency_keys)
            .values(
                merchant_id=merchant_id, key=key, request_method=method, request_path=path,
                request_digest=digest, recovery_point=STARTED, locked_until=func.now() + lease,
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "key"])
            .returning(idempotency_keys.c.id)
        )
        if inserted is not None:
            return ClaimedKey(inserted, STARTED, None)
        claimed = await _claim_existing(connection, merchant_id, key, method, path, digest, lease)
        if claimed is not None:
            return claimed
    raise IdempotencyInProgress(
        "This Idempotency-Key is changing hands; retry shortly.", code="idempotency_key_in_use",
        param="Idempotency-Key",
    )


async def _claim_existing(
    connection: AsyncConnection, merchant_id: str, key: str, method: str, path: str, digest: bytes,
    lease: dt.timedelta,
) -> ClaimedKey | None:
    table = idempotency_keys
    row = (
        await connection.execute(
            select(table, func.now().label("now"))
            .where(table.c.merchant_id == merchant_id, table.c.key == key)
            .with_for_update()
        )
    ).one_or_none()
    if row is None:
        return None
    if (row.request_method, row.request_path, row.request_digest) != (method, path, digest):
        raise IdempotencyMismatch(
            "Keys for idempotent requests can only be used with the same parameters they were "
            "first used with.",
            code="idempotency_key_reused",
            param="Idempotency-Key",
        )
    if row.recovery_point == FINISHED:
        return ClaimedKey(row.id, FINISHED, row.attempt_id, StoredResponse(row.response_status, row.response_body))
    if row.locked_until is not None and row.locked_until > row.now:
        raise IdempotencyInProgress(
            "A request with this Idempotency-Key is still being processed; retry later.",
            code="idempotency_key_in_use",
            param="Idempotency-Key",
        )
    await connection.execute(
        table.update().where(table.c.id == row.id).values(locked_until=row.now + lease)
    )
    return ClaimedKey(row.id, row.recovery_point, row.attempt_id)


async def mark_attempt_started(connection: AsyncConnection, key_id: int, attempt_id: str) -> None:
    await connection.execute(
        idempotency_keys.update()
        .where(idempotency_keys.c.id == key_id)
        .values(recovery_point=ATTEMPT_STARTED, attempt_id=attempt_id)
    )


async def finish(connection: AsyncConnection, key_id: int, response: StoredResponse) -> None:
    await connection.execute(
        idempotency_keys.update()
        .where(idempotency_keys.c.id == key_id)
        .values(
            recovery_point=FINISHED, response_status=response.status_code,
            response_body=response.body, locked_until=None, finished_at=func.now(),
        )
    )


async def finish_by_attempt(connection: AsyncConnection, attempt_id: str, response: StoredResponse) -> None:
    key_id = await connection.scalar(
        select(idempotency_keys.c.id).where(idempotency_keys.c.attempt_id == attempt_id)
    )
    if key_id is not None:
        await finish(connection, key_id, response)


async def release_lease(connection: AsyncConnection, key_id: int) -> None:
    """The outcome is still unknown: let a retry (or the sweeper) resume right away."""
    await connection.execute(
        idempotency_keys.update().where(idempotency_keys.c.id == key_id).values(locked_until=None)
    )


async def forget_attempt(connection: AsyncConnection, attempt_id: str) -> None:
    """The processor never saw the attempt: drop its key so a retry starts afresh."""
    await connection.execute(delete(idempotency_keys).where(idempotency_keys.c.attempt_id == attempt_id))


async def expire_keys(connection: AsyncConnection, ttl_hours: int, batch_size_max: int) -> int:
    """Delete finished keys older than the retention period, in bounded batches."""
    old = (
        select(idempotency_keys.c.id)
        .where(
            idempotency_keys.c.recovery_point == FINISHED,
            idempotency_keys.c.created_at < func.now() - dt.timedelta(hours=ttl_hours),
        )
        .limit(batch_size_max)
    )
    result = await connection.execute(delete(idempotency_keys).where(idempotency_keys.c.id.in_(old)))
    return result.rowcount
