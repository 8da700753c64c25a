"""Matching a run's settlement rows to the attempts that moved money, set-based, in the
run's transaction, on temporary tables (dropped at commit):

  run_rows    the rows of the files the run reconciles
  ours        the merchant's succeeded captures, sales and refunds on this processor since
              the look-back, not settled by an earlier run (signed: refunds negative)
  pairs       row ↔ attempt, one to one (an attempt settles once), with both sides' facts
  leftover    rows not paired (yet); ours_left: attempts not paired (yet)

The bulk pairs in one hash join on a key that is unique on both sides: the reference
basketpay sent with the operation when the file carries it (Adyen's modification merchant
reference = the attempt's processor idempotency key), else the processor's payment id;
with kind, amount and currency. No sort, however many lines. What that leaves (keys seen
twice, other amounts, fee lines, unknown lines: a handful) goes through leftovers.py:

  attempt_reference / payment_reference   paired on the key (rule named by the key)
  payment_reference   several alike rows and attempts of a payment pair in time order
  fee                 an Adyen Fee line naming the modification it was charged for
  amount_mismatch     same payment and kind, another amount (in time order)
  currency_mismatch   same payment and kind, another currency

A row that pairs nothing is classified in breaks.py (duplicate or missing in our books).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import AsyncConnection

from basketpay.reconciliation import leftovers
from basketpay.reconciliation.pairs import DDL, PAIR_COLUMNS, SETTLED_ATTEMPTS

__all__ = ["match"]

_RUN_ROWS = """
CREATE TEMP TABLE run_rows ON COMMIT DROP AS
SELECT f.id AS file_id, r.line, r.kind, r.row_reference, r.payment_reference, r.attempt_reference, r.currency, r.gross,
       r.fee, r.net, r.expected_fee, r.first_charge_fee, r.batch, r.booked_at
FROM settlement_rows r JOIN settlement_files f ON f.seq = r.file_seq
WHERE f.id = ANY(%(files)s) AND r.file_seq = ANY(ARRAY(SELECT seq FROM settlement_files WHERE id = ANY(%(files)s)))"""

_OUR_COLUMNS = """
SELECT a.id AS attempt_id, i.processor_reference AS payment_reference,
       CASE WHEN %(processor)s = 'adyen' THEN a.processor_idempotency_key END AS attempt_reference,
       CASE WHEN a.operation = 'refund' THEN 'refund' ELSE 'charge' END AS kind,
       CASE WHEN a.operation = 'refund' THEN -a.amount ELSE a.amount END AS amount,
       upper(a.currency) AS currency, a.completed_at,
       (a.operation = 'sale' OR i.amount_received = a.amount OR NOT EXISTS (
           SELECT 1 FROM payment_attempts b
           WHERE b.payment_intent_id = a.payment_intent_id AND b.status = 'succeeded'
             AND b.operation IN ('capture', 'sale') AND (b.completed_at, b.id) < (a.completed_at, a.id)))
         AS first_charge
FROM payment_attempts a JOIN payment_intents i ON i.id = a.payment_intent_id"""
_MOVED_MONEY = """a.merchant_id = %(merchant_id)s AND a.connector = %(processor)s AND a.status = 'succeeded'
  AND a.operation IN ('capture', 'sale', 'refund')"""
# The attempts a run may find settled: those completed since shortly before the files' first
# line, and older ones an earlier run is still waiting for (missing at the processor).
_OURS = f"""
CREATE TEMP TABLE ours ON COMMIT DROP AS
{_OUR_COLUMNS} WHERE {_MOVED_MONEY} AND a.completed_at >= %(since)s
UNION ALL
{_OUR_COLUMNS} JOIN reconciliation_breaks w ON w.attempt_id = a.id
WHERE {_MOVED_MONEY} AND a.completed_at < %(since)s AND w.merchant_id = %(merchant_id)s
  AND w.processor = %(processor)s AND w.category = 'missing_at_processor' AND w.status <> 'resolved'"""
# Apart, so that the join above is planned on the table's statistics (a hash join for a big
# day, index lookups for a small one) rather than on a guess of what the anti-join leaves.
# What earlier runs settled is kept aside: a line repeating one of them is a duplicate.
_SETTLED_BEFORE = """
CREATE TEMP TABLE ours_settled (LIKE ours) ON COMMIT DROP;
WITH gone AS (DELETE FROM ours o USING ({settled}) s WHERE s.attempt_id = o.attempt_id RETURNING o.*)
INSERT INTO ours_settled SELECT * FROM gone""".format(settled=SETTLED_ATTEMPTS)

# Keys seen more than once on either side leave the fast path (they pair in time order later).
# A key is compared through one 64-bit hash of its parts: grouping a million of those costs a
# fifth of grouping the text, and a collision only sends a few more lines the slow way.
_KEY_HASH = "hashtextextended({alias}.{key} || '|' || {alias}.kind || '|' || {alias}.currency, {alias}.{amount})"
_DUPLICATE_KEYS = """
CREATE TEMP TABLE twice_rows ON COMMIT DROP AS
SELECT {rows_hash} AS key_hash FROM run_rows x
WHERE kind IN ('charge', 'refund') AND {key} IS NOT NULL GROUP BY 1 HAVING count(*) > 1;
CREATE TEMP TABLE twice_ours ON COMMIT DROP AS
SELECT {ours_hash} AS key_hash FROM ours y WHERE {key} IS NOT NULL GROUP BY 1 HAVING count(*) > 1"""

_ONCE = "NOT EXISTS (SELECT 1 FROM {table} t WHERE t.key_hash = {hash})"

# One pass: pairs out of the full join, and what either side left. Only the columns a pair
# needs travel through the join; a leftover row or attempt is copied whole from its table.
_FAST = """
WITH r AS (SELECT x.file_id, x.line, x.{key}, x.kind, x.batch, x.currency, x.gross, x.fee, x.net, x.booked_at,
                  x.expected_fee, x.first_charge_fee
           FROM run_rows x WHERE x.kind IN ('charge', 'refund') AND x.{key} IS NOT NULL AND {rows_once}),
     o AS (SELECT y.attempt_id, y.{key}, y.kind, y.amount, y.currency, y.completed_at, y.first_charge
           FROM ours y WHERE {ours_once}),
     j AS (SELECT r.file_id, r.line, r.batch, r.currency, r.gross, r.fee, r.net, r.booked_at, r.expected_fee,
                  r.first_charge_fee, o.attempt_id, o.amount AS o_amount, o.currency AS o_currency,
                  o.completed_at AS o_completed_at, o.first_charge AS o_first_charge
           FROM r FULL JOIN o ON o.{key} = r.{key} AND o.kind = r.kind AND o.amount = r.gross
                                 AND o.currency = r.currency),
     paired AS (INSERT INTO pairs ({columns})
                SELECT j.file_id, j.line, j.attempt_id, '{key}', j.batch, j.currency, j.gross, j.fee, j.net, j.booked_at,
                       j.expected_fee + CASE WHEN j.o_first_charge THEN j.first_charge_fee ELSE 0 END, j.o_amount,
                       j.o_currency, j.o_completed_at
                FROM j WHERE j.line IS NOT NULL AND j.attempt_id IS NOT NULL),
     rows_left AS (INSERT INTO leftover SELECT x.* FROM run_rows x
                   WHERE (x.file_id, x.line) IN (SELECT file_id, line FROM j WHERE j.attempt_id IS NULL))
INSERT INTO ours_left SELECT y.* FROM ours y WHERE y.attempt_id IN (SELECT attempt_id FROM j WHERE j.line IS NULL)"""

_REST = """
INSERT INTO leftover SELECT * FROM run_rows x
WHERE kind <> 'payout' AND (kind NOT IN ('charge', 'refund') OR {key} IS NULL OR NOT {rows_once});
INSERT INTO ours_left SELECT * FROM ours y WHERE NOT {ours_once}"""


async def match(connection: AsyncConnection[Any], merchant_id: str, processor: str, files: list[str],
                since: dt.datetime) -> None:
    """Fill pairs, leftover and ours_left for this run."""
    params = {"merchant_id": merchant_id, "processor": processor, "files": files, "since": since}
    key = "attempt_reference" if processor == "adyen" else "payment_reference"
    rows_hash = _KEY_HASH.format(alias="x", key=key, amount="gross")
    ours_hash = _KEY_HASH.format(alias="y", key=key, amount="amount")
    rows_once = _ONCE.format(table="twice_rows", hash=rows_hash)
    ours_once = _ONCE.format(table="twice_ours", hash=ours_hash)
    for statement in (_RUN_ROWS, _OURS, "ANALYZE ours", _SETTLED_BEFORE, "ANALYZE run_rows", "ANALYZE ours", DDL,
                      _DUPLICATE_KEYS.format(key=key, rows_hash=rows_hash, ours_hash=ours_hash)):
        await execute(connection, statement, params)
    fast = _FAST.format(key=key, rows_once=rows_once, ours_once=ours_once, columns=PAIR_COLUMNS)
    await execute(connection, fast, params)
    await execute(connection, _REST.format(key=key, rows_once=rows_once, ours_once=ours_once), params)
    await leftovers.pair(connection, params)


async def execute(connection: AsyncConnection[Any], statements: str, params: dict[str, Any]) -> None:
    """Each `;`-separated statement, never prepared (temporary tables change every run)."""
    for statement in statements.split(";\n"):
        await connection.execute(statement, params if "%(" in statement else None, prepare=False)
