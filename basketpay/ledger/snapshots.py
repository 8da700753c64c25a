"""Point-in-time balances, cheaply: the sweeper writes each touched account's balance at
every `ledger_snapshot_interval_seconds` boundary; a balance as of T is then the latest
snapshot at or before T plus the postings after it up to T (one index range, at most one
interval of postings), instead of every posting since the account opened.

A boundary is snapshotted only once it is `ledger_snapshot_lag_seconds` old: a posting's
time is its transaction's start, so a transaction still open at the boundary could
commit a posting dated before it; the lag must outlast any transaction (they are
bounded by the statement timeout).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import AsyncConnection

from basketpay.db.database import Database
from basketpay.ledger.tables import POSTING_SUMS

_LAST_BOUNDARY = "SELECT max(as_of) AS as_of FROM ledger_snapshot_runs"
_RUN = "INSERT INTO ledger_snapshot_runs (as_of, accounts) VALUES (%(boundary)s, %(accounts)s)"
_SNAPSHOT = f"""
WITH touched AS (
    SELECT DISTINCT account_id FROM ledger_postings WHERE created_at > %(since)s AND created_at <= %(boundary)s
), previous AS (
    SELECT DISTINCT ON (s.account_id) s.* FROM ledger_balance_snapshots s JOIN touched USING (account_id)
    WHERE s.as_of < %(boundary)s ORDER BY s.account_id, s.as_of DESC
), sums AS (
    SELECT p.account_id, {POSTING_SUMS}
    FROM ledger_postings p JOIN touched USING (account_id) LEFT JOIN previous ON previous.account_id = p.account_id
    WHERE p.created_at > coalesce(previous.as_of, '-infinity') AND p.created_at <= %(boundary)s
    GROUP BY p.account_id
)
INSERT INTO ledger_balance_snapshots (account_id, as_of, posted, pending_debits, pending_credits)
SELECT sums.account_id, %(boundary)s, coalesce(previous.posted, 0) + sums.posted,
       coalesce(previous.pending_debits, 0) + sums.pending_debits,
       coalesce(previous.pending_credits, 0) + sums.pending_credits
FROM sums LEFT JOIN previous ON previous.account_id = sums.account_id
ON CONFLICT (account_id, as_of) DO NOTHING"""

BALANCE_AS_OF = f"""
WITH snapshot AS (
    SELECT * FROM ledger_balance_snapshots WHERE account_id = %(id)s AND as_of <= %(as_of)s
    ORDER BY as_of DESC LIMIT 1
), later AS (
    SELECT {POSTING_SUMS} FROM ledger_postings p
    WHERE p.account_id = %(id)s AND p.created_at <= %(as_of)s
      AND p.created_at > coalesce((SELECT as_of FROM snapshot), '-infinity')
)
SELECT (coalesce((SELECT posted FROM snapshot), 0) + later.posted)::bigint AS posted,
       (coalesce((SELECT pending_debits FROM snapshot), 0) + later.pending_debits)::bigint AS pending_debits,
       (coalesce((SELECT pending_credits FROM snapshot), 0) + later.pending_credits)::bigint AS pending_credits
FROM later"""
BOUNDARIES_PER_PASS_MAX = 48


def boundaries_due(last: dt.datetime | None, now: dt.datetime, interval_seconds: float,
                   lag_seconds: float) -> list[dt.datetime]:
    """The interval boundaries after `last` that are at least the lag old, oldest first."""
    latest = now - dt.timedelta(seconds=lag_seconds)
    step = dt.timedelta(seconds=interval_seconds)
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    newest = epoch + step * ((latest - epoch) // step)
    first = newest if last is None else last + step
    due: list[dt.datetime] = []
    boundary = first
    while boundary <= newest and len(due) < BOUNDARIES_PER_PASS_MAX:
        due.append(boundary)
        boundary += step
    return due


async def snapshot_once(database: Database, interval_seconds: float, lag_seconds: float,
                        now: dt.datetime | None = None) -> int:
    """Write the snapshots that are due; returns how many boundaries were written."""
    async with database.transaction() as connection:
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext('ledger_balance_snapshots'))")
        row = await (await connection.execute(_LAST_BOUNDARY)).fetchone()
        last = row.as_of if row is not None else None
        due = boundaries_due(last, now or dt.datetime.now(dt.UTC), interval_seconds, lag_seconds)
        since = last or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        for boundary in due:
            await _snapshot(connection, since, boundary)
            since = boundary
    return len(due)


async def _snapshot(connection: AsyncConnection[Any], since: dt.datetime, boundary: dt.datetime) -> None:
    written = await connection.execute(_SNAPSHOT, {"since": since, "boundary": boundary})
    await connection.execute(_RUN, {"boundary": boundary, "accounts": written.rowcount})
