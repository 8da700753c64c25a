"""Loading and saving payment intents, attempts and refunds (SQLAlchemy Core).

`save` is optimistic: it writes only if the row still has the version that was
loaded, so a lost update is impossible even for a caller that forgot to lock.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from basketpay.errors import Conflict, NotFound
from basketpay.payments.domain import PaymentIntent
from basketpay.payments.states import Status
from basketpay.payments.tables import payment_attempts, payment_intents, refunds

_INTENT_FIELDS = [f.name for f in dataclasses.fields(PaymentIntent)]
_MUTABLE_FIELDS = [name for name in _INTENT_FIELDS if name not in ("id", "merchant_id", "created_at", "version")]


def intent_from_row(row: Row[Any]) -> PaymentIntent:
    values = {name: getattr(row, name) for name in _INTENT_FIELDS}
    values["status"] = Status(values["status"])
    return PaymentIntent(**values)


def _intent_values(intent: PaymentIntent) -> dict[str, Any]:
    values = {name: getattr(intent, name) for name in _MUTABLE_FIELDS}
    values["status"] = intent.status.value
    return values


async def load_intent(
    connection: AsyncConnection, merchant_id: str, intent_id: str, *, for_update: bool = False
) -> PaymentIntent:
    query = select(payment_intents).where(
        payment_intents.c.id == intent_id, payment_intents.c.merchant_id == merchant_id
    )
    row = (await connection.execute(query.with_for_update() if for_update else query)).one_or_none()
    if row is None:
        raise NotFound(f"No such payment_intent: '{intent_id}'", code="resource_missing", param="intent")
    return intent_from_row(row)


async def insert_intent(connection: AsyncConnection, intent: PaymentIntent) -> None:
    values = _intent_values(intent)
    row = await connection.execute(
        payment_intents.insert()
        .values(id=intent.id, merchant_id=intent.merchant_id, version=1, **values)
        .returning(payment_intents.c.created_at)
    )
    intent.created_at = row.scalar_one()
    intent.version = 1


async def save_intent(connection: AsyncConnection, intent: PaymentIntent) -> None:
    result = await connection.execute(
        payment_intents.update()
        .where(payment_intents.c.id == intent.id, payment_intents.c.version == intent.version)
        .values(version=intent.version + 1, updated_at=func.now(), **_intent_values(intent))
    )
    if result.rowcount != 1:
        raise Conflict(
            "The PaymentIntent was changed by another request; retry.", code="lock_timeout"
        )
    intent.version += 1


async def insert_attempt(connection: AsyncConnection, **values: Any) -> None:
    await connection.execute(payment_attempts.insert().values(**values))


async def load_attempt(connection: AsyncConnection, attempt_id: str, *, for_update: bool = False) -> Row[Any]:
    query = select(payment_attempts).where(payment_attempts.c.id == attempt_id)
    return (await connection.execute(query.with_for_update() if for_update else query)).one()


async def complete_attempt(connection: AsyncConnection, attempt_id: str, **values: Any) -> Row[Any]:
    query = (
        payment_attempts.update()
        .where(payment_attempts.c.id == attempt_id)
        .values(completed_at=func.now(), **values)
        .returning(payment_attempts)
    )
    return (await connection.execute(query)).one()


async def insert_refund(connection: AsyncConnection, **values: Any) -> Row[Any]:
    query = refunds.insert().values(**values).returning(refunds)
    return (await connection.execute(query)).one()


async def load_refund(connection: AsyncConnection, merchant_id: str, refund_id: str) -> Row[Any]:
    query = select(refunds).where(refunds.c.id == refund_id, refunds.c.merchant_id == merchant_id)
    row = (await connection.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"No such refund: '{refund_id}'", code="resource_missing", param="id")
    return row


async def set_refund_status(
    connection: AsyncConnection, refund_id: str, status: str, failure_reason: str | None
) -> Row[Any]:
    query = (
        refunds.update()
        .where(refunds.c.id == refund_id)
        .values(status=status, failure_reason=failure_reason)
        .returning(refunds)
    )
    return (await connection.execute(query)).one()
