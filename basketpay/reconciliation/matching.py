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
from basketpay.reconciliation.pairs import DDL, PAIR_COLUMNS, SETTLED_ATTEMPTS, pair_values

__all__ = ["match"]

_RUN_ROWS = """
CREATE TEMP TABLE run_rows ON COMMIT DROP AS
SELECT * FROM settlement_rows WHERE file_id = ANY(%(files)s)"""

_OUR_COLUMNS = """
SELECT a.id AS attempt_id, a.payment_intent_id, i.processor_reference AS payment_reference,
       a.processor_idempotency_key AS attempt_reference, a.operation,
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
_DUPLICATE_KEYS = """
CREATE TEMP TABLE twice_rows ON COMMIT DROP AS
SELECT {key} AS key, kind, gross AS amount, currency FROM run_rows
WHERE kind IN ('charge', 'refund') AND {key} IS NOT NULL GROUP BY 1, 2, 3, 4 HAVING count(*) > 1;
CREATE TEMP TABLE twice_ours ON COMMIT DROP AS
SELECT {key} AS key, kind, amount, currency FROM ours GROUP BY 1, 2, 3, 4 HAVING count(*) > 1"""

_ONCE = ("NOT EXISTS (SELECT 1 FROM {table} t WHERE t.key = {alias}.{key} AND t.kind = {alias}.kind "
         "AND t.amount = {alias}.{amount} AND t.currency = {alias}.currency)")

_FAST = """
WITH r AS (SELECT * FROM run_rows x WHERE kind IN ('charge', 'refund') AND {key} IS NOT NULL AND {rows_once}),
     o AS (SELECT * FROM ours y WHERE {ours_once}),
     j AS (SELECT r.*, o.attempt_id AS o_attempt_id, o.payment_intent_id AS o_payment_intent_id,
                  o.amount AS o_amount, o.currency AS o_currency, o.completed_at AS o_completed_at,
                  o.first_charge AS o_first_charge, o.payment_reference AS o_payment_reference,
                  o.attempt_reference AS o_attempt_reference, o.operation AS o_operation, o.kind AS o_kind
           FROM r FULL JOIN o ON o.{key} = r.{key} AND o.kind = r.kind AND o.amount = r.gross
                                 AND o.currency = r.currency),
     paired AS (INSERT INTO pairs ({columns}) SELECT {values} FROM j
                CROSS JOIN LATERAL (SELECT j.o_attempt_id AS attempt_id, j.o_first_charge AS first_charge,
                                           j.o_payment_intent_id AS payment_intent_id, j.o_amount AS amount,
                                           j.o_currency AS currency, j.o_completed_at AS completed_at) o
                WHERE j.line IS NOT NULL AND j.o_attempt_id IS NOT NULL),
     rows_left AS (INSERT INTO leftover SELECT {row_columns} FROM j WHERE j.o_attempt_id IS NULL)
INSERT INTO ours_left SELECT o_attempt_id, o_payment_intent_id, o_payment_reference, o_attempt_reference, o_operation,
                             o_kind, o_amount, o_currency, o_completed_at, o_first_charge
FROM j WHERE j.line IS NULL"""

_REST = """
INSERT INTO leftover SELECT * FROM run_rows x
WHERE kind <> 'payout' AND (kind NOT IN ('charge', 'refund') OR {key} IS NULL OR NOT {rows_once});
INSERT INTO ours_left SELECT * FROM ours y WHERE NOT {ours_once}"""


async def _row_columns(connection: AsyncConnection[Any]) -> str:
    cursor = await connection.execute("SELECT * FROM run_rows LIMIT 0")
    return ", ".join(f"j.{column.name}" for column in cursor.description or ())


async def match(connection: AsyncConnection[Any], merchant_id: str, processor: str, files: list[str],
                since: dt.datetime) -> None:
    """Fill pairs, leftover and ours_left for this run."""
    params = {"merchant_id": merchant_id, "processor": processor, "files": files, "since": since}
    key = "attempt_reference" if processor == "adyen" else "payment_reference"
    rows_once = _ONCE.format(table="twice_rows", alias="x", key=key, amount="gross")
    ours_once = _ONCE.format(table="twice_ours", alias="y", key=key, amount="amount")
    for statement in (_RUN_ROWS, _OURS, "ANALYZE ours", _SETTLED_BEFORE, "ANALYZE run_rows", "ANALYZE ours", DDL,
                      _DUPLICATE_KEYS.format(key=key)):
        await execute(connection, statement, params)
    fast = _FAST.format(key=key, rows_once=rows_once, ours_once=ours_once, columns=PAIR_COLUMNS,
                        values=pair_values(f"'{key}'", "j", "o"), row_columns=await _row_columns(connection))
    await execute(connection, fast, params)
    await execute(connection, _REST.format(key=key, rows_once=rows_once, ours_once=ours_once), params)
    await leftovers.pair(connection, params)


async def execute(connection: AsyncConnection[Any], statements: str, params: dict[str, Any]) -> None:
    """Each `;`-separated statement, never prepared (temporary tables change every run)."""
    for statement in statements.split(";\n"):
        await connection.execute(statement, params if "%(" in statement else None, prepare=False)
