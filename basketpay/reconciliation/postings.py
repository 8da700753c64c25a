"""What a run posts to the ledger, per batch and currency (a handful of entries, however
many lines): the fees the processor kept, DR processor_fees / CR processor_clearing (the
fee model's figure where the line's fee is a discrepancy: the difference waits in the
break), and the payout that reached the bank, DR bank_cash / CR processor_clearing.

Captures and refunds were posted to processor_clearing when they happened (payments), so
once a batch is posted and its breaks resolved, its clearing nets to zero.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from basketpay.ledger import chart
from basketpay.ledger.batch import insert_entries
from basketpay.ledger.posting import Entry, transfer
from basketpay.reconciliation.tally import BatchTotals

__all__ = ["POSTED_FEE", "moves", "post_batches", "record_matches"]

# The fee a settled line posts: none for a currency mismatch (its break carries the line).
POSTED_FEE = ("CASE WHEN rule = 'currency_mismatch' THEN 0 WHEN rule IN ('attempt_reference', 'payment_reference', "
              "'fee') AND expected_fee <> fee THEN expected_fee ELSE fee END")

# Per batch, from the pairs: the fees to post, our side of what settled, the clean matches.
_PAIRED = f"""
SELECT batch, currency, coalesce(sum({POSTED_FEE}), 0)::bigint AS fees,
       coalesce(sum(our_amount) FILTER (WHERE rule <> 'currency_mismatch'), 0)::bigint AS ours,
       count(*) FILTER (WHERE rule IN ('attempt_reference', 'payment_reference', 'fee')) AS matched
FROM pairs GROUP BY batch, currency"""

# Chunks of the pairs as they lie (file order, close to time order: the chunks' time ranges stay
# narrow without a sort). The arrays of a chunk are filled by one aggregation step per pair, so
# they stay aligned.
_MATCHES = f"""
INSERT INTO reconciliation_matches (run_id, chunk, merchant_id, first_at, last_at, attempt_ids, file_ids, lines, fees,
                                    rules)
SELECT %(run_id)s, n / 1000, %(merchant_id)s, min(at), max(at), array_agg(attempt_id), array_agg(file_id),
       array_agg(line), array_agg(fee), array_agg(rule)
FROM (SELECT attempt_id, file_id, line, {POSTED_FEE} AS fee, rule, coalesce(completed_at, booked_at) AS at,
             row_number() OVER () - 1 AS n
      FROM pairs) numbered
GROUP BY n / 1000
"""


def moves(merchant_id: str, currency: str, debit: str, credit: str, amount: int) -> list[Any]:
    """`amount` from `credit` to `debit` (the other way round when negative)."""
    debit_id, credit_id = (chart.account_id(merchant_id, code, currency) for code in (debit, credit))
    return transfer(debit_id, credit_id, currency, amount) if amount > 0 else \
        transfer(credit_id, debit_id, currency, -amount)


async def post_batches(connection: AsyncConnection[Any], merchant_id: str, processor: str, run_id: str,
                       batches: dict[tuple[str, str], BatchTotals], whole: dict[tuple[str, str], BatchTotals],
                       hot_buckets: int) -> list[dict[str, Any]]:
    """Post each batch's fees and payout; returns the figures per batch (summary.py), with what
    the processor still owes on it when no file has brought its payout yet (`whole`: all files)."""
    paired = {(row.batch, row.currency): row for row in await (await connection.execute(_PAIRED)).fetchall()}
    clearing, fees = chart.processor_clearing(processor), chart.processor_fees(processor)
    entries: list[Entry] = []
    figures = []
    for currency in sorted({currency for _, currency in batches}):  # the accounts, once per currency
        await chart.provision(connection, merchant_id, currency, [processor], hot_buckets)
    for (batch, currency), totals in batches.items():
        row = paired.get((batch, currency))
        posted, ours, matched = (row.fees, row.ours, row.matched) if row else (0, 0, 0)
        description = f"{processor} settlement batch {batch} (run {run_id})"
        for kind, debit, amount in (("settlement.fees", fees, posted), ("settlement.payout", "bank_cash", totals.paid)):
            if amount:
                entries.append(Entry(merchant_id, kind, moves(merchant_id, currency, debit, clearing, amount),
                                     object_id=batch, description=description))
        figures.append({"batch": batch, "currency": currency, "lines": totals.lines, "matched": matched,
                        "gross": totals.gross, "fees": totals.fees, "fees_posted": posted, "paid": totals.paid,
                        "clearing": ours - posted - totals.paid, "awaiting_payout": _awaiting(whole.get((batch, currency)))})
    await insert_entries(connection, entries)
    return figures


async def record_matches(connection: AsyncConnection[Any], merchant_id: str, run_id: str) -> None:
    await connection.execute(_MATCHES, {"merchant_id": merchant_id, "run_id": run_id})


def _awaiting(totals: BatchTotals | None) -> int:
    return 0 if totals is None or totals.payouts else totals.net
