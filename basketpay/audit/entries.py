"""Building audit entries. The origin is the request id when there is one (it ties the
entry to the access log line), else the process."""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

import structlog
from psycopg import AsyncConnection

from basketpay.audit.tables import audit_log
from basketpay.db import statements as sql


def origin() -> str:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return str(request_id) if request_id else f"process:{socket.gethostname()}:{os.getpid()}"


def entry(
    actor: str, action: str, object_id: str | None, outcome: str = "ok", detail: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "actor": actor, "action": action, "object_id": object_id, "outcome": outcome, "origin": origin(),
        "detail": detail or {}, "created_at": dt.datetime.now(dt.UTC),
    }


async def record(connection: AsyncConnection[Any], row: dict[str, Any]) -> None:
    await connection.execute(sql.insert_sql(audit_log, tuple(row)), sql.adapt(audit_log, row))
