"""What the fast path of matching.py left: rows whose key was seen twice, lines with
another amount or currency, Adyen Fee lines, lines nobody knows. A handful on a normal
day, so each rule is a small ranked join; every rule moves what it pairs out of
`leftover` and `ours_left` in the same statement.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from basketpay.reconciliation.pairs import PAIR_COLUMNS, SETTLED_ATTEMPTS, pair_values

__all__ = ["pair"]

_MOVE = """
WITH moved AS (INSERT INTO pairs ({columns}) {select} RETURNING file_id, line, attempt_id),
     gone AS (DELETE FROM leftover l USING moved m WHERE l.file_id = m.file_id AND l.line = m.line)
DELETE FROM ours_left o USING moved m WHERE o.attempt_id = m.attempt_id"""

# Alike rows and attempts of a payment pair in time order (numbered within the key).
_RANKED = """
SELECT {values}
FROM (SELECT r.*, row_number() OVER (PARTITION BY {row_key} ORDER BY r.booked_at, r.file_id, r.line) AS rank
      FROM leftover r WHERE r.kind IN ('charge', 'refund') AND r.payment_reference IS NOT NULL {rows_where}) r
JOIN (SELECT o.*, row_number() OVER (PARTITION BY {our_key} ORDER BY o.completed_at, o.attempt_id) AS rank
      FROM ours_left o) o
  ON o.payment_reference = r.payment_reference AND o.kind = r.kind AND o.rank = r.rank {extra}"""

_FEE_LINES = """
SELECT DISTINCT ON (a.id) r.file_id, r.line, a.id, 'fee', r.batch, r.currency, r.gross, r.fee, r.net, r.booked_at,
       r.expected_fee, NULL::bigint, NULL::text, NULL::timestamptz
FROM leftover r JOIN payment_attempts a ON a.processor_idempotency_key = r.attempt_reference
WHERE r.kind = 'fee' AND a.merchant_id = %(merchant_id)s AND a.connector = %(processor)s
  AND a.id NOT IN (SELECT s.attempt_id FROM ({settled}) s)
  AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.attempt_id = a.id)
ORDER BY a.id, r.booked_at, r.file_id, r.line"""

# A leftover row is a duplicate when it repeats a paired line of this run (the same line id,
# or the same payment, kind, amount and currency) or a line an earlier run settled.
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
    """INSERT INTO duplicates SELECT DISTINCT ON (l.file_id, l.line) l.file_id, l.line, s.attempt_id
       FROM leftover l JOIN ours_settled s ON s.payment_reference = l.payment_reference AND s.kind = l.kind
            AND s.amount = l.gross AND s.currency = l.currency ON CONFLICT DO NOTHING""",
)
_NOT_DUPLICATE = "AND NOT EXISTS (SELECT 1 FROM duplicates d WHERE d.file_id = r.file_id AND d.line = r.line)"


def _statements(columns: str, values: Any) -> list[str]:
    by_payment = _RANKED.format(values=values("'payment_reference'"), rows_where="",
                                row_key="r.payment_reference, r.kind, r.gross, r.currency",
                                our_key="o.payment_reference, o.kind, o.amount, o.currency",
                                extra="AND o.amount = r.gross AND o.currency = r.currency")
    mismatched = _RANKED.format(
        values=values("CASE WHEN o.currency = r.currency THEN 'amount_mismatch' ELSE 'currency_mismatch' END"),
        rows_where=_NOT_DUPLICATE, row_key="r.payment_reference, r.kind", our_key="o.payment_reference, o.kind",
        extra="")
    fee_lines = _FEE_LINES.replace("{settled}", SETTLED_ATTEMPTS)
    return [_MOVE.format(columns=columns, select=by_payment), _MOVE.format(columns=columns, select=fee_lines),
            _DUPLICATES, *_DUPLICATE_RULES, _MOVE.format(columns=columns, select=mismatched)]


async def pair(connection: AsyncConnection[Any], params: dict[str, Any]) -> None:
    await connection.execute("ANALYZE leftover", prepare=False)
    for statement in _statements(PAIR_COLUMNS, pair_values):
        await connection.execute(statement, params if "%(" in statement else None, prepare=False)
