"""Writing events into the outbox, always on the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from basketpay.ids import new_id
from basketpay.outbox.tables import events


def event_row(merchant_id: str, event_type: str, object_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "merchant_id": merchant_id,
        "type": event_type,
        "object_id": object_id,
        "data": data,
    }


async def record_events(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await connection.execute(events.insert(), rows)
