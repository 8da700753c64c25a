"""Holds past their expiry: what is left of each is released (status `expired`), by the
sweeper, a bounded batch per pass. A hold without an expiry (a card authorization's,
which the payments core releases) never expires here."""

from __future__ import annotations

from typing import Any

from basketpay.db.database import Database
from basketpay.ledger.batch import insert_entries
from basketpay.ledger.posting import hold_bucket
from basketpay.ledger.service import settlement

_EXPIRED = """
SELECT h.*, d.buckets AS debit_buckets, c.buckets AS credit_buckets FROM ledger_holds h
JOIN ledger_accounts d ON d.id = h.debit_account_id JOIN ledger_accounts c ON c.id = h.credit_account_id
WHERE h.status = 'pending' AND h.expires_at < now()
ORDER BY h.expires_at LIMIT %(limit)s FOR UPDATE OF h SKIP LOCKED"""
_EXPIRE = """
UPDATE ledger_holds SET posted_amount = %(posted_amount)s, released_amount = %(released_amount)s,
    status = %(status)s, updated_at = %(updated_at)s WHERE id = %(id)s"""


async def expire_holds(database: Database, batch_size_max: int) -> int:
    """Release what is left of expired holds; returns how many expired."""
    async with database.transaction() as connection:
        held = await (await connection.execute(_EXPIRED, {"limit": batch_size_max})).fetchall()
        settled = [_expire(row) for row in held]
        await insert_entries(connection, [entry for entry, _ in settled])
        async with connection.cursor() as cursor:
            await cursor.executemany(_EXPIRE, [values for _, values in settled])
    return len(held)


def _expire(row: Any) -> tuple[Any, dict[str, Any]]:
    buckets = (hold_bucket(row.id, row.debit_buckets), hold_bucket(row.id, row.credit_buckets))
    entry, values = settlement(row, buckets, 0, True)
    entry.kind, values["status"] = "hold.expired", "expired"  # whatever was posted of it before
    return entry, {**values, "id": row.id}
