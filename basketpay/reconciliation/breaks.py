"""Classifying what matching left, as break rows of the run (set-based SQL over the
temporary tables of matching.py). Every break says what resolving it would move into
the processor's clearing account (`difference`, theirs − ours, and `detail.legs` per
currency): once each break of a batch is resolved, the batch's clearing nets to zero.

  amount_mismatch       paired, another amount: difference = their gross − ours
  currency_mismatch     paired, another currency: ours out of clearing, their net in
  fee_discrepancy       paired, fee ≠ the fee model's: the model's fee is posted;
                        difference = model − actual (not checked on a line whose amount is
                        itself a break: its fee follows the amount in dispute)
  timing                paired, booked later than the settlement window after ours (no money)
  duplicate             a line repeating a settled one: difference = its net (paid twice)
  missing_in_books      a line no attempt explains: difference = its net
  payout_total_mismatch a batch's payout ≠ the sum of its lines' nets: payout − sum
  missing_at_processor  ours, not settled: expected until the cut-off, then overdue;
                        difference = − our amount. Settled later: resolved ("settled")
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from basketpay.reconciliation.tally import BatchTotals

__all__ = ["classify"]

_NEW_ID = "'rb_' || replace(gen_random_uuid()::text, '-', '')"

CLEAN_RULES = "('attempt_reference', 'payment_reference', 'fee')"

_INSERT = f"""
INSERT INTO reconciliation_breaks (id, merchant_id, run_id, processor, category, status, currency, amount, difference,
                                   batch, file_id, line, attempt_id, payment_intent_id, occurred_at, detail)
SELECT {_NEW_ID}, %(merchant_id)s, %(run_id)s, %(processor)s, {{category}}, 'open', {{currency}}, {{amount}},
       {{difference}}, {{place}}, {{attempt}}, {{intent}}, {{occurred}},
       jsonb_build_object('legs', {{legs}}, 'row_reference', {{row_reference}}{{detail}})
FROM {{source}} WHERE {{where}}"""


def _from_settled(category: str, difference: str, where: str, detail: str, legs: str | None = None) -> str:
    return _INSERT.format(
        category=f"'{category}'", currency="currency", amount="gross", difference=difference, attempt="attempt_id",
        intent="(SELECT a.payment_intent_id FROM payment_attempts a WHERE a.id = pairs.attempt_id)",
        occurred="coalesce(completed_at, booked_at)", row_reference="NULL",
        legs=legs or f"jsonb_build_array(jsonb_build_array(currency, {difference}))", detail=detail,
        source="pairs", where=where, place="batch, file_id, line")


_AMOUNT = _from_settled(
    "amount_mismatch", "gross - our_amount", "rule = 'amount_mismatch'",
    ", 'ours', our_amount, 'theirs', gross, 'booked_at', booked_at")
_CURRENCY = _from_settled(
    "currency_mismatch", "-our_amount", "rule = 'currency_mismatch'",
    ", 'ours', jsonb_build_array(our_currency, our_amount), 'theirs', jsonb_build_array(currency, gross)",
    legs="jsonb_build_array(jsonb_build_array(our_currency, -our_amount), jsonb_build_array(currency, net))")
_FEE = _from_settled(
    "fee_discrepancy", "expected_fee - fee", f"rule IN {CLEAN_RULES} AND expected_fee <> fee",
    ", 'expected_fee', expected_fee, 'fee', fee")
_TIMING = _from_settled(
    "timing", "0", "completed_at IS NOT NULL AND booked_at - completed_at > %(window)s",
    ", 'completed_at', completed_at, 'booked_at', booked_at", legs="jsonb_build_array()")


def _from_leftover(category: str, where: str, detail: str) -> str:
    return _INSERT.format(
        category=f"'{category}'", currency="l.currency", amount="l.gross", difference="l.net",
        attempt="d.original_attempt_id",
        intent="(SELECT a.payment_intent_id FROM payment_attempts a WHERE a.id = d.original_attempt_id)",
        occurred="l.booked_at", row_reference="l.row_reference",
        legs="jsonb_build_array(jsonb_build_array(l.currency, l.net))", detail=detail,
        source="leftover l LEFT JOIN duplicates d ON d.file_id = l.file_id AND d.line = l.line",
        where=where, place="l.batch, l.file_id, l.line")


_DUPLICATE = _from_leftover("duplicate", "d.line IS NOT NULL", ", 'kind', l.kind, 'payment_reference', "
                            "l.payment_reference, 'fee', l.fee")
_MISSING_IN_BOOKS = _from_leftover("missing_in_books", "d.line IS NULL", ", 'kind', l.kind, 'payment_reference', "
                                   "l.payment_reference, 'fee', l.fee")

_PAYOUT = f"""
INSERT INTO reconciliation_breaks (id, merchant_id, run_id, processor, category, status, currency, amount, difference,
                                   batch, occurred_at, detail)
VALUES ({_NEW_ID}, %(merchant_id)s, %(run_id)s, %(processor)s, 'payout_total_mismatch', 'open', %(currency)s, %(paid)s,
        %(difference)s, %(batch)s, %(as_of)s, %(detail)s)"""

_SETTLED_AT_LAST = """
UPDATE reconciliation_breaks b SET status = 'resolved', resolution = 'settled', resolved_at = now(),
       reason = 'settled in run ' || %(run_id)s
FROM pairs p WHERE b.attempt_id = p.attempt_id AND b.category = 'missing_at_processor' AND b.status <> 'resolved'"""

_AWAITED = f"""
INSERT INTO reconciliation_breaks (id, merchant_id, run_id, processor, category, status, currency, amount, difference,
                                   attempt_id, payment_intent_id, occurred_at, detail)
SELECT {_NEW_ID}, %(merchant_id)s, %(run_id)s, %(processor)s, 'missing_at_processor',
       CASE WHEN %(as_of)s - o.completed_at > %(cutoff)s THEN 'overdue' ELSE 'expected' END, o.currency, o.amount,
       -o.amount, o.attempt_id, (SELECT a.payment_intent_id FROM payment_attempts a WHERE a.id = o.attempt_id),
       o.completed_at,
       jsonb_build_object('legs', jsonb_build_array(jsonb_build_array(o.currency, -o.amount)), 'kind', o.kind,
                          'payment_reference', o.payment_reference)
FROM ours_left o
WHERE o.completed_at <= %(as_of)s
ON CONFLICT (attempt_id) WHERE category = 'missing_at_processor' AND status <> 'resolved'
DO UPDATE SET status = EXCLUDED.status"""


async def classify(connection: AsyncConnection[Any], params: dict[str, Any],
                   batches: dict[tuple[str, str], BatchTotals]) -> None:
    """`params`: merchant_id, run_id, processor, as_of, window (timing), cutoff (overdue) as timedeltas."""
    for statement in (_AMOUNT, _CURRENCY, _FEE, _TIMING, _DUPLICATE, _MISSING_IN_BOOKS, _SETTLED_AT_LAST, _AWAITED):
        await connection.execute(statement, params if "%(" in statement else None)
    await _payouts(connection, params, batches)


async def _payouts(connection: AsyncConnection[Any], params: dict[str, Any],
                   batches: dict[tuple[str, str], BatchTotals]) -> None:
    """A batch whose payout lines paid other than the sum of its lines' nets (from the files' tallies)."""
    rows = [{**params, "batch": batch, "currency": currency, "paid": totals.paid,
             "difference": totals.paid - totals.net,
             "detail": Jsonb({"legs": [[currency, totals.paid - totals.net]], "paid": totals.paid,
                              "lines_net": totals.net})}
            for (batch, currency), totals in batches.items() if totals.payouts and totals.paid != totals.net]
    if rows:
        async with connection.cursor() as cursor:
            await cursor.executemany(_PAYOUT, rows)


def window_params(settlement_days: float, overdue_days: float) -> dict[str, dt.timedelta]:
    return {"window": dt.timedelta(days=settlement_days), "cutoff": dt.timedelta(days=overdue_days)}
