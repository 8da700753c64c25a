"""Matching a run's settlement rows to the attempts that moved money, set-based, in the
run's transaction. Three temporary tables:

  run_rows   the rows of the files the run reconciles
  ours       the merchant's succeeded captures, sales and refunds on this processor since
             the look-back, not matched by an earlier run (signed: refunds negative)
  pairs      row ↔ attempt, one to one (an attempt settles once)

Rules, in order (the first that pairs a row or an attempt takes it):

  attempt_reference   the row carries the reference basketpay sent (Adyen's modification
                      merchant reference = the attempt's processor idempotency key), same
                      kind, amount and currency
  payment_reference   same payment (PaymentIntent / PSP reference), kind, amount and
                      currency; several alike pair in time order
  fee                 an Adyen Fee line naming the modification (a void, an authorization
                      adjustment) it was charged for
  amount_mismatch     same payment and kind, another amount (in time order)
  currency_mismatch   same payment and kind, another currency

A row that pairs nothing is classified in breaks.py (duplicate or missing in our books).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import AsyncConnection

__all__ = ["match"]

_RUN_ROWS = """
CREATE TEMP TABLE run_rows ON COMMIT DROP AS
SELECT * FROM settlement_rows WHERE file_id = ANY(%(files)s)"""

_OURS = """
CREATE TEMP TABLE ours ON COMMIT DROP AS
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
FROM payment_attempts a JOIN payment_intents i ON i.id = a.payment_intent_id
WHERE a.merchant_id = %(merchant_id)s AND a.connector = %(processor)s AND a.status = 'succeeded'
  AND a.operation IN ('capture', 'sale', 'refund') AND a.completed_at >= %(since)s"""
# Apart, so that the join above is planned on the table's statistics (a hash join for a big
# day, index lookups for a small one) rather than on a guess of what the anti-join leaves.
_SETTLED_BEFORE = "DELETE FROM ours o USING reconciliation_matches m WHERE m.attempt_id = o.attempt_id"

# A pair carries what the later steps read of both sides, so they never join back.
_PAIRS = """
CREATE TEMP TABLE pairs (
    file_id text, line int, attempt_id text, rule text, batch text, kind text, currency text, gross bigint,
    fee bigint, net bigint, booked_at timestamptz, payment_reference text, expected_fee bigint,
    payment_intent_id text, our_amount bigint, our_currency text, completed_at timestamptz) ON COMMIT DROP"""
_PAIR_COLUMNS = ("file_id, line, attempt_id, rule, batch, kind, currency, gross, fee, net, booked_at, payment_reference, "
                 "expected_fee, payment_intent_id, our_amount, our_currency, completed_at")
_PAIR_VALUES = ("r.file_id, r.line, o.attempt_id, {rule}, r.batch, r.kind, r.currency, r.gross, r.fee, r.net, r.booked_at, "
                "r.payment_reference, r.expected_fee + CASE WHEN o.first_charge THEN r.first_charge_fee ELSE 0 END, "
                "o.payment_intent_id, o.amount, o.currency, o.completed_at")

_BY_ATTEMPT = f"""
INSERT INTO pairs ({_PAIR_COLUMNS})
SELECT DISTINCT ON (o.attempt_id) {_PAIR_VALUES.format(rule="'attempt_reference'")}
FROM run_rows r JOIN ours o
  ON o.attempt_reference = r.attempt_reference AND o.kind = r.kind AND o.amount = r.gross AND o.currency = r.currency
WHERE r.attempt_reference IS NOT NULL AND r.kind IN ('charge', 'refund')
ORDER BY o.attempt_id, r.booked_at, r.file_id, r.line"""

# Rows and attempts not paired yet, numbered within a key so that alike ones pair in time order.
_RANKED = f"""
INSERT INTO pairs ({_PAIR_COLUMNS})
SELECT {_PAIR_VALUES.format(rule="{rule}")}
FROM (SELECT r.*, row_number() OVER (PARTITION BY {{row_key}} ORDER BY r.booked_at, r.file_id, r.line) AS rank
      FROM {{rows}} r
      WHERE r.kind IN ('charge', 'refund') AND r.payment_reference IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.file_id = r.file_id AND p.line = r.line)) r
JOIN (SELECT o.*, row_number() OVER (PARTITION BY {{our_key}} ORDER BY o.completed_at, o.attempt_id) AS rank
      FROM ours o WHERE NOT EXISTS (SELECT 1 FROM pairs p WHERE p.attempt_id = o.attempt_id) {{ours_where}}) o
  ON o.payment_reference = r.payment_reference AND o.kind = r.kind AND o.rank = r.rank {{extra}}"""

_BY_PAYMENT = _RANKED.format(
    rule="'payment_reference'", rows="run_rows", row_key="r.payment_reference, r.kind, r.gross, r.currency",
    our_key="o.payment_reference, o.kind, o.amount, o.currency", ours_where="",
    extra="AND o.amount = r.gross AND o.currency = r.currency")
# Only the payments a leftover row names: the rest of `ours` is either paired or awaited.
_MISMATCHED = _RANKED.format(
    rule="CASE WHEN o.currency = r.currency THEN 'amount_mismatch' ELSE 'currency_mismatch' END",
    rows="(SELECT * FROM leftover l WHERE NOT EXISTS (SELECT 1 FROM duplicates d WHERE (d.file_id, d.line) = "
         "(l.file_id, l.line)))", row_key="r.payment_reference, r.kind", our_key="o.payment_reference, o.kind",
    ours_where="AND o.payment_reference IN (SELECT payment_reference FROM leftover)", extra="")

_FEE_LINES = f"""
INSERT INTO pairs ({_PAIR_COLUMNS})
SELECT DISTINCT ON (a.id) r.file_id, r.line, a.id, 'fee', r.batch, r.kind, r.currency, r.gross, r.fee, r.net,
       r.booked_at, r.payment_reference, r.expected_fee, a.payment_intent_id, NULL, NULL, NULL
FROM run_rows r JOIN payment_attempts a ON a.processor_idempotency_key = r.attempt_reference
WHERE r.kind = 'fee' AND a.merchant_id = %(merchant_id)s AND a.connector = %(processor)s
  AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.attempt_id = a.id)
ORDER BY a.id, r.booked_at, r.file_id, r.line"""

_LEFTOVER = """
CREATE TEMP TABLE leftover ON COMMIT DROP AS
SELECT r.* FROM run_rows r
WHERE r.kind <> 'payout' AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.file_id = r.file_id AND p.line = r.line)"""

# A leftover row is a duplicate when it repeats a paired line (the same line id, or the same
# payment, kind, amount and currency) of this run or of an earlier one: the original's attempt.
_DUPLICATES = """
CREATE TEMP TABLE duplicates (file_id text, line int, original_attempt_id text, PRIMARY KEY (file_id, line))
ON COMMIT DROP"""
_DUPLICATE_RULES = (
    """INSERT INTO duplicates SELECT DISTINCT ON (l.file_id, l.line) l.file_id, l.line, p.attempt_id
       FROM leftover l JOIN run_rows q ON q.row_reference = l.row_reference
       JOIN pairs p ON p.file_id = q.file_id AND p.line = q.line ON CONFLICT DO NOTHING""",
    """INSERT INTO duplicates SELECT DISTINCT ON (l.file_id, l.line) l.file_id, l.line, p.attempt_id
       FROM leftover l JOIN run_rows q ON q.payment_reference = l.payment_reference AND q.kind = l.kind
            AND q.gross = l.gross AND q.currency = l.currency
       JOIN pairs p ON p.file_id = q.file_id AND p.line = q.line AND p.rule <> 'fee' ON CONFLICT DO NOTHING""",
    """INSERT INTO duplicates SELECT DISTINCT ON (l.file_id, l.line) l.file_id, l.line, m.attempt_id
       FROM leftover l JOIN reconciliation_matches m ON m.payment_reference = l.payment_reference
            AND m.kind = l.kind AND m.amount = l.gross
       WHERE m.merchant_id = %(merchant_id)s ON CONFLICT DO NOTHING""",
)


async def match(connection: AsyncConnection[Any], merchant_id: str, processor: str, files: list[str],
                since: dt.datetime) -> None:
    """Fill run_rows, ours, pairs, leftover and duplicates (temporary tables, dropped at commit)."""
    params = {"merchant_id": merchant_id, "processor": processor, "files": files, "since": since}
    for statement in (_RUN_ROWS, _OURS, "ANALYZE ours", _SETTLED_BEFORE, "ANALYZE run_rows", "ANALYZE ours", _PAIRS, _BY_ATTEMPT, "ANALYZE pairs",
                      _BY_PAYMENT, _FEE_LINES, _LEFTOVER, "ANALYZE leftover", _DUPLICATES, *_DUPLICATE_RULES,
                      _MISMATCHED, "ANALYZE pairs"):
        await connection.execute(statement, params if "%(" in statement else None)
