"""Point-of-sale feeds and their lines as stored (`pos_feeds`, `pos_transactions`), and
their JSON shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from basketpay.db.statements import MERCHANT_SCOPE
from basketpay.errors import NotFound
from basketpay.reconciliation.pos.matching import Outcome
from basketpay.reconciliation.pos.parser import StoreTransaction

_COLUMNS = ("feed_id", "line", "merchant_id", "store", "occurred_at", "card_last4", "currency", "total", "tax",
            "order_id", "status", "detail")


def feed_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "object": "pos_feed", "name": row.name, "sha256": row.sha256, "rows": row.rows,
            "summary": row.summary, "created": int(row.created_at.timestamp())}


def transaction_json(row: Any) -> dict[str, Any]:
    return {"object": "pos_transaction", "feed": row.feed_id, "line": row.line, "store": row.store,
            "occurred_at": row.occurred_at.isoformat(), "card_last4": row.card_last4, "currency": row.currency,
            "total": row.total, "tax": row.tax, "order": row.order_id, "status": row.status, "detail": row.detail}


async def find_by_content(connection: AsyncConnection[Any], merchant_id: str, sha256: str) -> Any | None:
    return await (await connection.execute(
        "SELECT * FROM pos_feeds WHERE merchant_id = %(merchant_id)s AND sha256 = %(sha256)s",
        {"merchant_id": merchant_id, "sha256": sha256})).fetchone()


async def load(connection: AsyncConnection[Any], merchant_id: str, feed_id: str) -> Any:
    row = await (await connection.execute(
        f"SELECT * FROM pos_feeds WHERE id = %(id)s AND {MERCHANT_SCOPE}",
        {"id": feed_id, "merchant_id": merchant_id})).fetchone()
    if row is None:
        raise NotFound(f"No such point-of-sale feed: {feed_id!r}.", code="resource_missing", param="id")
    return row


async def insert(connection: AsyncConnection[Any], values: Mapping[str, Any]) -> Any | None:
    """The new feed's row; None if the merchant has a feed of the same content already."""
    return await (await connection.execute(
        "INSERT INTO pos_feeds (id, merchant_id, name, sha256, rows, summary)"
        " VALUES (%(id)s, %(merchant_id)s, %(name)s, %(sha256)s, %(rows)s, %(summary)s)"
        " ON CONFLICT (merchant_id, sha256) DO NOTHING RETURNING *",
        {**values, "summary": Jsonb(values["summary"])})).fetchone()


async def write_transactions(connection: AsyncConnection[Any], feed_id: str, merchant_id: str,
                             transactions: Sequence[StoreTransaction], outcomes: Mapping[int, Outcome]) -> None:
    """Every line with its outcome, by COPY (a feed is thousands of lines)."""
    async with connection.cursor().copy(f"COPY pos_transactions ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
        copy.set_types(["text", "int4", "text", "text", "timestamptz", "text", "text", "int8", "int8", "text", "text",
                        "jsonb"])
        for item in transactions:
            outcome = outcomes[item.line]
            await copy.write_row((feed_id, item.line, merchant_id, item.store, item.occurred_at, item.card_last4,
                                  item.currency, item.total, item.tax, outcome.order_id, outcome.status,
                                  Jsonb(outcome.detail)))


async def transactions(connection: AsyncConnection[Any], merchant_id: str, feed_id: str, *, after_line: int,
                       limit: int, statuses: Sequence[str]) -> tuple[list[Any], bool]:
    """The feed's lines in file order after `after_line`, of these statuses; and whether more follow."""
    rows = await (await connection.execute(
        "SELECT * FROM pos_transactions WHERE feed_id = %(feed)s AND merchant_id = %(merchant_id)s"
        " AND line > %(after)s AND status = ANY(%(statuses)s) ORDER BY line LIMIT %(limit)s",
        {"feed": feed_id, "merchant_id": merchant_id, "after": after_line, "statuses": list(statuses),
         "limit": limit + 1})).fetchall()
    return rows[:limit], len(rows) > limit
