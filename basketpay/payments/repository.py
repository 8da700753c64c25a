"""Loading and saving payment intents, attempts and refunds (psycopg, SQL generated
from the table definitions).

`save_intent` is optimistic: it writes only if the row still has the version that
was loaded, so a lost update is impossible even for a caller that forgot to lock.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from psycopg import AsyncConnection

from basketpay.db import statements as sql
from basketpay.errors import Conflict, NotFound
from basketpay.idempotency.keys import KeyRequest, KeySeen
from basketpay.payments.domain import PaymentIntent
from basketpay.payments.states import Status
from basketpay.payments.tables import payment_attempts, payment_intents, refunds

INTENT_FIELDS = tuple(f.name for f in dataclasses.fields(PaymentIntent))
MUTABLE_FIELDS = tuple(name for name in INTENT_FIELDS if name not in ("id", "merchant_id", "created_at", "version"))


def intent_from_row(row: Any) -> PaymentIntent:
    values = {name: getattr(row, name) for name in INTENT_FIELDS}
    values["status"] = Status(values["status"])
    return PaymentIntent(**values)


def intent_values(intent: PaymentIntent) -> dict[str, Any]:
    values = {name: getattr(intent, name) for name in MUTABLE_FIELDS}
    values["status"] = intent.status.value
    return values


def new_intent_values(intent: PaymentIntent) -> dict[str, Any]:
    return {"id": intent.id, "merchant_id": intent.merchant_id, "version": intent.version,
            "created_at": intent.created_at, **intent_values(intent)}


async def load_intent(
    connection: AsyncConnection[Any], merchant_id: str, intent_id: str, *, for_update: bool = False
) -> PaymentIntent:
    query = sql.select_sql(payment_intents, ("id", "merchant_id"), for_update=for_update)
    row = await (await connection.execute(query, {"id": intent_id, "merchant_id": merchant_id})).fetchone()
    if row is None:
        raise NotFound(f"No such payment_intent: '{intent_id}'", code="resource_missing", param="intent")
    return intent_from_row(row)


_INTENT_AND_KEY = """
SELECT payment_intents.*, EXISTS (
    SELECT 1 FROM idempotency_keys k WHERE k.merchant_id = %(merchant_id)s AND k.key = %(key)s) AS key_seen
FROM payment_intents WHERE id = %(id)s AND """ + sql.MERCHANT_SCOPE


async def load_intent_for_operation(
    connection: AsyncConnection[Any], merchant_id: str, intent_id: str, request: KeyRequest | None, locked: bool
) -> PaymentIntent:
    """The intent to operate on. With a key (fast path, no lock): in the same query, whether
    the key was seen before, in which case the slow path takes over (KeySeen)."""
    if request is None:
        return await load_intent(connection, merchant_id, intent_id, for_update=locked)
    params = {"merchant_id": merchant_id, "id": intent_id, "key": request.key}
    row = await (await connection.execute(_INTENT_AND_KEY, params)).fetchone()
    if row is not None and row.key_seen:
        raise KeySeen
    if row is None:
        raise NotFound(f"No such payment_intent: '{intent_id}'", code="resource_missing", param="intent")
    return intent_from_row(row)


async def save_intent(connection: AsyncConnection[Any], intent: PaymentIntent) -> None:
    values = {**intent_values(intent), "version": intent.version + 1}
    query = sql.update_sql(payment_intents, tuple(values), ("id", "version"))
    cursor = await connection.execute(
        query, sql.update_params(payment_intents, values, {"id": intent.id, "version": intent.version})
    )
    if cursor.rowcount != 1:
        raise Conflict("The PaymentIntent was changed by another request; retry.", code="lock_timeout")
    intent.version += 1


async def load_attempt(connection: AsyncConnection[Any], attempt_id: str, *, for_update: bool = False) -> Any:
    query = sql.select_sql(payment_attempts, ("id",), for_update=for_update)
    row = await (await connection.execute(query, {"id": attempt_id})).fetchone()
    if row is None:
        raise NotFound(f"No such attempt: '{attempt_id}'", code="resource_missing")
    return row


async def attempt_for_key(connection: AsyncConnection[Any], merchant_id: str, key: str) -> Any:
    """The key's latest attempt (a cascade makes several under one key: the last one answers)."""
    query = ("SELECT * FROM payment_attempts WHERE merchant_id = %(merchant_id)s AND idempotency_key = %(key)s"
             " ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE")
    return await (await connection.execute(query, {"merchant_id": merchant_id, "key": key})).fetchone()


async def complete_attempt(connection: AsyncConnection[Any], attempt_id: str, **values: Any) -> Any:
    query = sql.update_sql(payment_attempts, tuple(values), ("id",), returning=True)
    cursor = await connection.execute(query, sql.update_params(payment_attempts, values, {"id": attempt_id}))
    return await cursor.fetchone()


async def load_refund(connection: AsyncConnection[Any], merchant_id: str, refund_id: str) -> Any:
    query = sql.select_sql(refunds, ("id", "merchant_id"))
    row = await (await connection.execute(query, {"id": refund_id, "merchant_id": merchant_id})).fetchone()
    if row is None:
        raise NotFound(f"No such refund: '{refund_id}'", code="resource_missing", param="id")
    return row


async def set_refund_status(
    connection: AsyncConnection[Any], refund_id: str, status: str, failure_reason: str | None
) -> Any:
    values = {"status": status, "failure_reason": failure_reason}
    query = sql.update_sql(refunds, tuple(values), ("id",), returning=True)
    return await (await connection.execute(query, sql.update_params(refunds, values, {"id": refund_id}))).fetchone()
