"""A run's summary, stored with the run and rendered by report.py: how many lines
matched, the breaks by category (count, amount at stake, difference to clearing), each
batch's posting and what is left in its clearing, and the ageing of everything still
unreconciled for the merchant and processor.

A batch's `unexplained` is its clearing after the run, less what the processor still owes
on it (a batch whose payout no file has brought yet) and what its breaks would move: zero
means every cent of the batch is either matched or named by a break.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import AsyncConnection

__all__ = ["AGEING_BUCKETS", "ageing", "summarize"]

AGEING_BUCKETS = ((1, "0-1 d"), (3, "1-3 d"), (7, "3-7 d"), (30, "7-30 d"), (None, "30+ d"))

_BREAKS = """
SELECT category, status, currency, count(*) AS count, sum(abs(amount))::bigint AS amount,
       sum(difference)::bigint AS difference
FROM reconciliation_breaks WHERE run_id = %(run_id)s OR (merchant_id = %(merchant_id)s AND processor = %(processor)s
      AND category = 'missing_at_processor' AND status <> 'resolved')
GROUP BY category, status, currency ORDER BY category, status, currency"""
# A batch may be reconciled over several runs (its lines, then its payout): its clearing and
# its breaks are summed over all of them.
_BATCH_BREAKS = """
SELECT batch, leg->>0 AS currency, sum((leg->>1)::bigint)::bigint AS difference
FROM reconciliation_breaks, jsonb_array_elements(detail->'legs') AS leg
WHERE merchant_id = %(merchant_id)s AND processor = %(processor)s AND batch = ANY(%(batches)s)
GROUP BY batch, leg->>0"""
_EARLIER_CLEARING = """
SELECT b->>'batch' AS batch, b->>'currency' AS currency, sum((b->>'clearing')::bigint)::bigint AS clearing
FROM reconciliation_runs r, jsonb_array_elements(r.summary->'batches') AS b
WHERE r.merchant_id = %(merchant_id)s AND r.processor = %(processor)s AND b->>'batch' = ANY(%(batches)s)
GROUP BY 1, 2"""
# Bucketed in the database: a run may leave a million breaks (a file of another merchant's
# payments), and the summary must not hold them.
_AGE_LABEL = "CASE " + " ".join(
    f"WHEN %(now)s - occurred_at < interval '{days} days' THEN '{label}'" for days, label in AGEING_BUCKETS if days
) + f" ELSE '{AGEING_BUCKETS[-1][1]}' END"
_AGEING = f"""
SELECT {_AGE_LABEL} AS age, currency, count(*) AS count, sum(abs(difference))::bigint AS amount
FROM reconciliation_breaks
WHERE merchant_id = %(merchant_id)s AND processor = %(processor)s AND status <> 'resolved' AND difference <> 0
GROUP BY 1, 2"""


async def _rows(connection: AsyncConnection[Any], statement: str, params: dict[str, Any]) -> list[Any]:
    return await (await connection.execute(statement, params)).fetchall()


async def _explained(connection: AsyncConnection[Any], params: dict[str, Any],
                     batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds each batch's clearing over all its runs, and what no break explains of it."""
    query = {**params, "batches": sorted({item["batch"] for item in batches})}
    breaks = {(r.batch, r.currency): r.difference for r in await _rows(connection, _BATCH_BREAKS, query)}
    earlier = {(r.batch, r.currency): r.clearing for r in await _rows(connection, _EARLIER_CLEARING, query)}
    result = []
    for item in batches:
        key = (item["batch"], item["currency"])
        total = item["clearing"] + earlier.get(key, 0)
        result.append({**item, "clearing_total": total,
                       "unexplained": total - item["awaiting_payout"] + breaks.get(key, 0)})
    return result


async def ageing(connection: AsyncConnection[Any], params: dict[str, Any], now: dt.datetime) -> list[dict[str, Any]]:
    order = [label for _, label in AGEING_BUCKETS]
    rows = sorted(await _rows(connection, _AGEING, {**params, "now": now}),
                  key=lambda row: (order.index(row.age), row.currency))
    return [{"age": row.age, "currency": row.currency, "count": row.count, "amount": row.amount} for row in rows]


async def summarize(connection: AsyncConnection[Any], params: dict[str, Any], files: list[str],
                    posted: list[dict[str, Any]], now: dt.datetime) -> dict[str, Any]:
    lines, matched = sum(item["lines"] for item in posted), sum(item["matched"] for item in posted)
    breaks = [{"category": r.category, "status": r.status, "currency": r.currency, "count": r.count,
               "amount": r.amount, "difference": r.difference} for r in await _rows(connection, _BREAKS, params)]
    return {
        "run_id": params["run_id"], "merchant_id": params["merchant_id"], "processor": params["processor"],
        "as_of": params["as_of"].isoformat(), "created_at": now.isoformat(), "files": files,
        "lines": lines, "matched": matched, "match_rate": round(matched / lines, 6) if lines else 1.0,
        "breaks": breaks, "batches": await _explained(connection, params, posted),
        "ageing": await ageing(connection, params, now),
    }
