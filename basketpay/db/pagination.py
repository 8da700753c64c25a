"""Cursor pagination on a table's `seq` column, newest first (Stripe's list semantics)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import Table

from basketpay.db.statements import MERCHANT_SCOPE
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
            raise InvalidRequest("Give starting_after or ending_before, not both.", param="ending_before")


async def _cursor_seq(connection: AsyncConnection[Any], table: Table, merchant_id: str, object_id: str, param: str) -> int:
    query = f"SELECT seq FROM {table.name} WHERE id = %(id)s AND {MERCHANT_SCOPE}"
    row = await (await connection.execute(query, {"id": object_id, "merchant_id": merchant_id})).fetchone()
    if row is None:
        raise InvalidRequest(f"No such object for cursor {param}: {object_id!r}.", param=param, code="resource_missing")
    return int(row.seq)


async def fetch_page(
    connection: AsyncConnection[Any], table: Table, merchant_id: str, page: PageRequest,
    filters: dict[str, Any] | None = None,
) -> tuple[list[Any], bool]:
    """Rows newest first, and whether more exist beyond them in the direction of travel."""
    filters = filters or {}
    conditions = ["merchant_id = %(merchant_id)s", *(f"{column} = %(f_{column})s" for column in filters)]
    params: dict[str, Any] = {"merchant_id": merchant_id, "limit": page.limit + 1}
    params.update({f"f_{column}": value for column, value in filters.items()})
    order = "DESC"
    if page.ending_before:
        params["seq"] = await _cursor_seq(connection, table, merchant_id, page.ending_before, "ending_before")
        conditions.append("seq > %(seq)s")
        order = "ASC"
    elif page.starting_after:
        params["seq"] = await _cursor_seq(connection, table, merchant_id, page.starting_after, "starting_after")
        conditions.append("seq < %(seq)s")
    query = f"SELECT * FROM {table.name} WHERE {' AND '.join(conditions)} ORDER BY seq {order} LIMIT %(limit)s"
    rows = await (await connection.execute(query, params)).fetchall()
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if page.ending_before:
        rows.reverse()
    return rows, has_more
