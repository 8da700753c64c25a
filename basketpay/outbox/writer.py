"""Events for the outbox, always written on the caller's transaction or statement."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from basketpay.db import statements as sql
from basketpay.ids import new_id
from basketpay.outbox.tables import events

EVENT_COLUMNS = ("id", "merchant_id", "type", "object_id", "data")


def event_row(merchant_id: str, event_type: str, object_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id("evt"), "merchant_id": merchant_id, "type": event_type, "object_id": object_id, "data": data}


async def record_events(connection: AsyncConnection[Any], rows: list[dict[str, Any]]) -> None:
    if rows:
        async with connection.cursor() as cursor:
            await cursor.executemany(sql.insert_sql(events, EVENT_COLUMNS), [sql.adapt(events, row) for row in rows])
