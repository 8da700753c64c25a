"""Writing many entries at once: two statements whatever the count (entries, then all
their postings through `unnest`), so the balance trigger runs once per batch and each
balance row is updated once per batch however many of its postings the batch holds.

Used by the batched-posting API, reconciliation and imports. The caller owns the
transaction; a batch is all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from basketpay.ledger.posting import Entry

ENTRIES_PER_BATCH_MAX = 10_000

_INSERT_ENTRIES = """
INSERT INTO ledger_entries (id, merchant_id, kind, object_id, hold_id, description, client_entry_id,
                            content_digest, reverses_entry_id)
SELECT * FROM unnest(%(id)s::text[], %(merchant_id)s::text[], %(kind)s::text[], %(object_id)s::text[],
                     %(hold_id)s::text[], %(description)s::text[], %(client_entry_id)s::text[],
                     %(content_digest)s::bytea[], %(reverses_entry_id)s::text[])"""
_INSERT_POSTINGS = """
INSERT INTO ledger_postings (entry_id, merchant_id, account_id, currency, bucket, phase, amount)
SELECT * FROM unnest(%(entry_id)s::text[], %(merchant_id)s::text[], %(account_id)s::text[], %(currency)s::text[],
                     %(bucket)s::smallint[], %(phase)s::smallint[], %(amount)s::bigint[])"""


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in names}


async def insert_entries(connection: AsyncConnection[Any], entries: Sequence[Entry]) -> None:
    """Check every entry, then write them and their postings: two statements."""
    if not entries:
        return
    if len(entries) > ENTRIES_PER_BATCH_MAX:
        raise ValueError(f"at most {ENTRIES_PER_BATCH_MAX} entries per batch")
    entry_rows, posting_rows = [], []
    for entry in entries:
        row, postings = entry.rows()  # checks that it balances
        entry_rows.append(row)
        posting_rows.extend(postings)
    await connection.execute(_INSERT_ENTRIES, _columns(entry_rows, (
        "id", "merchant_id", "kind", "object_id", "hold_id", "description", "client_entry_id", "content_digest",
        "reverses_entry_id")))
    await connection.execute(_INSERT_POSTINGS, _columns(posting_rows, (
        "entry_id", "merchant_id", "account_id", "currency", "bucket", "phase", "amount")))
