"""Reading and writing order rows. Every change locks the order's row first, so two
requests or workflows changing one order take turns; each write bumps the version."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from basketpay.db.statements import MERCHANT_SCOPE
from basketpay.errors import NotFound
from basketpay.orders.record import OrderRecord
from basketpay.workflows.runtime import Enqueue


def _missing(order_id: str) -> NotFound:
    return NotFound(f"No such order: {order_id!r}.", param="order")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def load(connection: AsyncConnection[Any], merchant_id: str, order_id: str, *, lock: bool) -> OrderRecord:
    query = "SELECT * FROM orders WHERE id = %(id)s AND " + MERCHANT_SCOPE + (" FOR UPDATE" if lock else "")
    row = await (await connection.execute(query, {"id": order_id, "merchant_id": merchant_id})).fetchone()
    if row is None:
        raise _missing(order_id)
    return OrderRecord.from_row(row)


async def load_any(connection: AsyncConnection[Any], order_id: str, *, lock: bool = True) -> OrderRecord:
    """For workflows, which act for whichever merchant owns the order."""
    query = "SELECT * FROM orders WHERE id = %(id)s" + (" FOR UPDATE" if lock else "")
    row = await (await connection.execute(query, {"id": order_id})).fetchone()
    if row is None:
        raise _missing(order_id)
    return OrderRecord.from_row(row)


async def insert(connection: AsyncConnection[Any], record: OrderRecord) -> None:
    await connection.execute(
        "INSERT INTO orders (id, merchant_id, status, currency, customer, document, version, scheduled_for)"
        " VALUES (%(id)s, %(merchant_id)s, %(status)s, %(currency)s, %(customer)s, %(document)s, 0, %(scheduled)s)",
        {"id": record.id, "merchant_id": record.merchant_id, "status": record.status, "currency": record.currency,
         "customer": record.customer, "document": Jsonb(record.document(), dumps=_dumps),
         "scheduled": None if record.scheduled_for is None else dt.datetime.fromisoformat(record.scheduled_for)})


async def save(connection: AsyncConnection[Any], record: OrderRecord) -> None:
    """Write the record back (the caller holds its row lock)."""
    await connection.execute(
        "UPDATE orders SET status = %(status)s, document = %(document)s, version = version + 1, updated_at = now()"
        " WHERE id = %(id)s",
        {"id": record.id, "status": record.status, "document": Jsonb(record.document(), dumps=_dumps)})
    record.version += 1


async def add_workflow(connection: AsyncConnection[Any], order_id: str, item: Enqueue) -> bool:
    """Record the workflow the order now waits for; False if it was recorded before (same id)."""
    milestone, argument = item.args[0], item.args[2]
    row = await (await connection.execute(
        "INSERT INTO order_workflows (id, order_id, milestone, argument, dbos_id, due_at)"
        " VALUES (%(id)s, %(order)s, %(milestone)s, %(argument)s, %(id)s,"
        " now() + make_interval(secs => %(delay)s)) ON CONFLICT (id) DO NOTHING RETURNING id",
        {"id": item.workflow_id, "order": order_id, "milestone": milestone, "argument": argument,
         "delay": item.delay_seconds})).fetchone()
    return row is not None


async def finish_workflow(connection: AsyncConnection[Any], workflow_id: str) -> None:
    await connection.execute("UPDATE order_workflows SET finished_at = now() WHERE id = %(id)s AND finished_at IS NULL",
                             {"id": workflow_id})


async def record_event(connection: AsyncConnection[Any], order_id: str, event_id: str, digest: str, kind: str,
                       payload: dict[str, Any]) -> str | None:
    """Store the event; None if it is new, else the digest the same event id was stored with."""
    row = await (await connection.execute(
        "INSERT INTO order_events (order_id, event_id, digest, kind, payload)"
        " VALUES (%(order)s, %(event)s, %(digest)s, %(kind)s, %(payload)s)"
        " ON CONFLICT (order_id, event_id) DO NOTHING RETURNING event_id",
        {"order": order_id, "event": event_id, "digest": digest, "kind": kind, "payload": Jsonb(payload)},
    )).fetchone()
    if row is not None:
        return None
    existing = await (await connection.execute(
        "SELECT digest FROM order_events WHERE order_id = %(order)s AND event_id = %(event)s",
        {"order": order_id, "event": event_id})).fetchone()
    assert existing is not None  # inserted by a transaction that has committed (the conflict says so)
    return str(existing.digest)


async def stale_workflows(connection: AsyncConnection[Any], older_than: dt.datetime, limit: int) -> list[Any]:
    return await (await connection.execute(
        "SELECT * FROM order_workflows WHERE finished_at IS NULL AND due_at < %(older)s"
        " ORDER BY due_at LIMIT %(limit)s", {"older": older_than, "limit": limit})).fetchall()


async def retry_workflow(connection: AsyncConnection[Any], workflow_id: str, dbos_id: str | None) -> None:
    """Look at it again later; under a new DBOS id when the last one failed for good."""
    await connection.execute(
        "UPDATE order_workflows SET due_at = now(), dbos_id = COALESCE(%(dbos)s, dbos_id) WHERE id = %(id)s",
        {"id": workflow_id, "dbos": dbos_id})


async def abandoned_checkouts(connection: AsyncConnection[Any], older_than: dt.datetime, limit: int) -> list[Any]:
    return await (await connection.execute(
        "SELECT o.id FROM orders o WHERE o.status = 'authorizing' AND o.updated_at < %(older)s"
        " AND NOT EXISTS (SELECT 1 FROM order_workflows w WHERE w.order_id = o.id AND w.finished_at IS NULL)"
        " ORDER BY o.updated_at LIMIT %(limit)s", {"older": older_than, "limit": limit})).fetchall()


async def policy_for(connection: AsyncConnection[Any], merchant_id: str) -> dict[str, Any] | None:
    row = await (await connection.execute("SELECT policy FROM merchant_order_policies WHERE merchant_id = %(m)s",
                                          {"m": merchant_id})).fetchone()
    return None if row is None else dict(row.policy)


async def put_policy(connection: AsyncConnection[Any], merchant_id: str, policy: dict[str, Any]) -> None:
    await connection.execute(
        "INSERT INTO merchant_order_policies (merchant_id, policy) VALUES (%(m)s, %(p)s)"
        " ON CONFLICT (merchant_id) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()",
        {"m": merchant_id, "p": Jsonb(policy)})
