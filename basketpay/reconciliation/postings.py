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

__all__ = ["POSTED_FEE", "moves", "post_batches", "record_matches"]

# The fee a settled line posts: none for a currency mismatch (its break carries the line).
POSTED_FEE = ("CASE WHEN rule = 'currency_mismatch' THEN 0 WHEN expected_fee IS NOT NULL AND expected_fee <> fee "
              "THEN expected_fee ELSE fee END")

_BATCHES = f"""
SELECT batch, currency, sum(fees)::bigint AS fees, sum(paid)::bigint AS paid FROM (
    SELECT batch, currency, {POSTED_FEE} AS fees, 0 AS paid FROM settled
    UNION ALL
    SELECT batch, currency, 0, -net FROM run_rows WHERE kind = 'payout') parts
GROUP BY batch, currency ORDER BY batch, currency"""

_MATCHES = f"""
INSERT INTO reconciliation_matches (attempt_id, merchant_id, run_id, file_id, line, batch, payment_reference, kind,
                                    amount, fee, rule)
SELECT attempt_id, %(merchant_id)s, %(run_id)s, file_id, line, batch, payment_reference, kind,
       coalesce(our_amount, 0), {POSTED_FEE}, rule
FROM settled"""


def moves(merchant_id: str, currency: str, debit: str, credit: str, amount: int) -> list[Any]:
    """`amount` from `credit` to `debit` (the other way round when negative)."""
    debit_id, credit_id = (chart.account_id(merchant_id, code, currency) for code in (debit, credit))
    return transfer(debit_id, credit_id, currency, amount) if amount > 0 else \
        transfer(credit_id, debit_id, currency, -amount)


async def post_batches(connection: AsyncConnection[Any], merchant_id: str, processor: str, run_id: str,
                       hot_buckets: int) -> list[dict[str, Any]]:
    """Post each batch's fees and payout; returns the per-batch figures posted."""
    rows = await (await connection.execute(_BATCHES)).fetchall()
    clearing, fees = chart.processor_clearing(processor), chart.processor_fees(processor)
    entries: list[Entry] = []
    for row in rows:
        await chart.provision(connection, merchant_id, row.currency, [processor], hot_buckets)
        description = f"{processor} settlement batch {row.batch} (run {run_id})"
        if row.fees:
            entries.append(Entry(merchant_id, "settlement.fees", moves(merchant_id, row.currency, fees, clearing,
                                                                         row.fees), object_id=row.batch,
                                 description=description))
        if row.paid:
            entries.append(Entry(merchant_id, "settlement.payout", moves(merchant_id, row.currency, "bank_cash",
                                                                           clearing, row.paid),
                                 object_id=row.batch, description=description))
    await insert_entries(connection, entries)
    return [{"batch": row.batch, "currency": row.currency, "fees_posted": row.fees, "paid": row.paid} for row in rows]


async def record_matches(connection: AsyncConnection[Any], merchant_id: str, run_id: str) -> None:
    await connection.execute(_MATCHES, {"merchant_id": merchant_id, "run_id": run_id})
