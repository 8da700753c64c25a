"""A reconciliation run: every imported, not yet reconciled file of one merchant and
processor, matched, classified, posted and summarised in one transaction (so a crash
leaves the files waiting for the next run, and two runs never interleave: an advisory
lock per merchant and processor).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from basketpay.db.database import Database
from basketpay.ids import new_id
from basketpay.reconciliation.breaks import classify, window_params
from basketpay.reconciliation.matching import match
from basketpay.reconciliation.postings import post_batches, record_matches
from basketpay.reconciliation.summary import summarize
from basketpay.reconciliation.tally import merge_batches, whole_batches

__all__ = ["RunOptions", "reconcile"]

_FILES = """SELECT id, name, first_booked_at, last_booked_at, batches FROM settlement_files
WHERE merchant_id = %s AND processor = %s AND run_id IS NULL ORDER BY seq"""
_INSERT_RUN = """INSERT INTO reconciliation_runs (id, merchant_id, processor, file_ids, as_of, summary)
VALUES (%(id)s, %(merchant_id)s, %(processor)s, %(file_ids)s, %(as_of)s, %(summary)s)"""


@dataclass(frozen=True, slots=True)
class RunOptions:
    lookback_days: float = 3.0
    settlement_days: float = 2.0
    overdue_days: float = 5.0
    hot_buckets: int = 16

    @classmethod
    def from_settings(cls, settings: Any) -> RunOptions:
        return cls(settings.reconciliation_lookback_days, settings.reconciliation_settlement_days,
                   settings.reconciliation_overdue_days, settings.ledger_hot_account_buckets)


# A run is a few large set operations on temporary tables, not many small statements: its
# connection keeps them in memory (temp_buffers, work_mem), samples them lightly for ANALYZE,
# and does not JIT-compile (0.6 s a statement, more than it saves here).
SESSION = {"temp_buffers": "1GB", "work_mem": "512MB", "default_statistics_target": "10", "jit": "off"}


async def _lock(connection: AsyncConnection[Any], merchant_id: str, processor: str) -> None:
    """Runs of the same books queue; a run of other books goes on."""
    await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                             (f"reconciliation:{merchant_id}:{processor}",))


async def reconcile(db: Database, merchant_id: str, processor: str, options: RunOptions) -> dict[str, Any] | None:
    """Run over the waiting files; their summary (report.py renders it), or None if none waited."""
    async with db.batch_transaction(**SESSION) as connection:
        await _lock(connection, merchant_id, processor)
        files = await (await connection.execute(_FILES, (merchant_id, processor))).fetchall()
        booked = [row for row in files if row.first_booked_at is not None]
        if not files:
            return None
        now = dt.datetime.now(dt.UTC)
        first = min((row.first_booked_at for row in booked), default=now)
        as_of = max((row.last_booked_at for row in booked), default=now)
        run_id, file_ids = new_id("rr"), [row.id for row in files]
        await match(connection, merchant_id, processor, file_ids, first - dt.timedelta(days=options.lookback_days))
        params = {"merchant_id": merchant_id, "processor": processor, "run_id": run_id, "as_of": as_of,
                  **window_params(options.settlement_days, options.overdue_days)}
        batches = merge_batches(row.batches for row in files)
        whole = await whole_batches(connection, params, batches)
        await classify(connection, params, whole)
        posted = await post_batches(connection, merchant_id, processor, run_id, batches, whole, options.hot_buckets)
        await record_matches(connection, merchant_id, run_id)
        summary = await summarize(connection, params, [row.name for row in files], posted, now)
        await connection.execute(_INSERT_RUN, {"id": run_id, "merchant_id": merchant_id, "processor": processor,
                                               "file_ids": Jsonb(file_ids), "as_of": as_of,
                                               "summary": Jsonb(summary)})
        await connection.execute("UPDATE settlement_files SET run_id = %s WHERE id = ANY(%s)", (run_id, file_ids))
    return summary
