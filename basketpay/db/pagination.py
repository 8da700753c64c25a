"""Cursor pagination on a table's `seq` column, newest first (Stripe's list semantics)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from basketpay.errors import InvalidRequest

LIMIT_DEFAULT = 10
LIMIT_MAX = 100


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = LIMIT_DEFAULT
    starting_after: str | None = None
    ending_before: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= LIMIT_MAX:
            raise InvalidRequest(f"limit must be between 1 and {LIMIT_MAX}.", param="limit")
        if self.starting_after and self.ending_before:
            raise InvalidRequest(
                "Give starting_after or ending_before, not both.", param="ending_before"
            )


async def _cursor_seq(connection: AsyncConnection, table: Table, merchant_id: str, object_id: str, param: str) -> int:
    seq = await connection.scalar(
        select(table.c.seq).where(table.c.id == object_id, table.c.merchant_id == merchant_id)
    )
    if seq is None:
        raise InvalidRequest(f"No such object for cursor {param}: {object_id!r}.", param=param, code="resource_missing")
    return int(seq)


async def fetch_page(
    connection: AsyncConnection,
    table: Table,
    merchant_id: str,
    page: PageRequest,
    filters: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[Row[Any]], bool]:
    """Rows newest first, and whether more exist beyond them in the direction of travel."""
    query = select(table).where(table.c.merchant_id == merchant_id, *filters)
    if page.ending_before:
        seq = await _cursor_seq(connection, table, merchant_id, page.ending_before, "ending_before")
        query = query.where(table.c.seq > seq).order_by(table.c.seq.asc())
    else:
        if page.starting_after:
            seq = await _cursor_seq(connection, table, merchant_id, page.starting_after, "starting_after")
            query = query.where(table.c.seq < seq)
        query = query.order_by(table.c.seq.desc())
    rows = list((await connection.execute(query.limit(page.limit + 1))).all())
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if page.ending_before:
        rows.reverse()
    return rows, has_more
