"""The reconciliation benchmark's data: a ledger holding N captured payments (seeded by
SQL, as the payments core would have left them: intent, capture attempt, capture entry)
and the processor's settlement file for them, written line by line."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
from pathlib import Path
from typing import Any

import psycopg

from basketpay.ledger import chart
from basketpay.money import format_major, percent_of
from basketpay.sandboxes.adyen_api.settlement import COLUMNS as ADYEN_COLUMNS
from basketpay.sandboxes.fees import AdyenFees, StripeFees
from basketpay.sandboxes.stripe_api.settlement import ITEMIZED_COLUMNS, PAYOUT_COLUMNS

DAY0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
SECONDS_PER_LINE = 2  # a million lines span about 23 days: 23 daily batches


def amount(g: int) -> int:
    return 1_000 + (g * 7_919) % 90_000


def when(g: int) -> dt.datetime:
    return DAY0 + dt.timedelta(seconds=g * SECONDS_PER_LINE)


_SEED = """
WITH g AS (SELECT g, 1000 + (g * 7919) %% 90000 AS amount,
                  %(day0)s::timestamptz + make_interval(secs => g * %(step)s::int) AS at
           FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g),
intents AS (
  INSERT INTO payment_intents (id, merchant_id, version, status, amount, currency, capture_method, metadata,
      off_session, amount_authorized, amount_capturable, amount_received, amount_refunded, connector,
      processor_reference, card_brand, created_at, updated_at)
  SELECT 'pi_b' || g, %(m)s, 3, 'succeeded', amount, 'usd', 'manual', '{}', false, amount, 0, amount, 0,
         %(p)s, %(ref_prefix)s || g, 'visa', at, at FROM g RETURNING 1),
attempts AS (
  INSERT INTO payment_attempts (id, merchant_id, payment_intent_id, operation, status, status_before, amount,
      currency, final_capture, connector, idempotency_key, processor_idempotency_key, processor_reference,
      created_at, completed_at)
  SELECT 'pa_b' || g, %(m)s, 'pi_b' || g, 'capture', 'succeeded', 'requires_capture', amount, 'usd', true, %(p)s,
         'bench-' || g, 'basketpay-pa_b' || g, %(ref_prefix)s || g, at, at FROM g RETURNING 1),
entries AS (
  INSERT INTO ledger_entries (id, merchant_id, kind, object_id)
  SELECT 'le_b' || g, %(m)s, 'payment.capture', 'pi_b' || g FROM g RETURNING 1)
INSERT INTO ledger_postings (entry_id, merchant_id, account_id, currency, bucket, phase, amount)
SELECT 'le_b' || g, %(m)s, account, 'USD', 0, 0, CASE WHEN account = %(clearing)s THEN amount ELSE -amount END
FROM g, unnest(ARRAY[%(clearing)s, %(receivables)s]) AS account"""


def seed(url: str, merchant_id: str, processor: str, rows: int, chunk: int = 100_000) -> None:
    async def provision() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await chart.provision(connection, merchant_id, "USD", [processor], 16)

    asyncio.run(provision())
    accounts = {"clearing": chart.account_id(merchant_id, chart.processor_clearing(processor), "USD"),
                "receivables": chart.account_id(merchant_id, chart.CUSTOMER_RECEIVABLES, "USD")}
    with psycopg.connect(url, autocommit=True) as connection:
        for first in range(1, rows + 1, chunk):
            connection.execute(_SEED, {"first": first, "last": min(rows, first + chunk - 1), "m": merchant_id,
                                       "p": processor, "day0": DAY0, "step": SECONDS_PER_LINE,
                                       "ref_prefix": reference_prefix(processor), **accounts})
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")  # the seeding's writes are the set-up's, not the timed import's


def reference_prefix(processor: str) -> str:
    return "pi_s" if processor == "stripe" else "PSP"


def _stripe(path: Path, rows: int) -> list[Path]:
    fees, payouts = StripeFees(), {}
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(ITEMIZED_COLUMNS)
        for g in range(1, rows + 1):
            at, gross = when(g), amount(g)
            fee = percent_of(gross, fees.percent_bps) + fees.fixed_minor
            payout = f"po_bench_{at.date()}"
            payouts[payout] = payouts.get(payout, 0) + gross - fee
            stamp = at.strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow([payout, f"{at.date() + dt.timedelta(days=1)} 00:00:00", f"txn_b{g}", stamp, stamp, "usd",
                             format_major(gross, "usd"), format_major(fee, "usd"), format_major(gross - fee, "usd"),
                             "charge", f"ch_b{g}", "", f"ch_b{g}", f"pi_s{g}", "", "visa", "credit", "US"])
    payouts_path = path.with_name(path.stem + "_payouts.csv")
    with payouts_path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(PAYOUT_COLUMNS)
        for payout, net in payouts.items():
            writer.writerow([payout, f"{payout.removeprefix('po_bench_')} 23:59:59", "usd", format_major(net, "usd"),
                             "0.00", format_major(net, "usd"), ""])
    return [path, payouts_path]


def _adyen_row(g: int, fees: AdyenFees) -> list[Any]:
    at, gross = when(g), amount(g)
    split = fees.sale("visa", "credit", gross)
    stamp = at.strftime("%Y-%m-%d %H:%M:%S")
    parts = [format_major(v, "USD") if v else "" for v in (split.commission, split.markup, split.scheme_fees,
                                                            split.interchange)]
    batch = str((at.date() - dt.date(2000, 1, 1)).days)
    return ["BasketpaySandbox", "BasketpayTest", f"PSP{g}", f"bench-auth-{g}", "visa", stamp, "UTC", "Settled",
            f"MOD{g}", "USD", "", format_major(gross, "USD"), "1", "USD", "", format_major(gross - split.total, "USD"),
            *parts, "visacredit", batch, *([""] * 7), f"basketpay-pa_b{g}", stamp, "UTC"]


def _adyen(path: Path, rows: int) -> list[Path]:
    fees, batches = AdyenFees(), {}
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(ADYEN_COLUMNS)
        for g in range(1, rows + 1):
            row = _adyen_row(g, fees)
            batches[row[21]] = batches.get(row[21], 0) + amount(g) - fees.sale("visa", "credit", amount(g)).total
            writer.writerow(row)
        for batch, net in batches.items():
            closed = f"{dt.date(2000, 1, 1) + dt.timedelta(days=int(batch))} 23:59:59"
            writer.writerow(["BasketpaySandbox", "BasketpayTest", "", "", "", closed, "UTC", "MerchantPayout",
                             f"PAYOUT{batch}", "", "", "", "", "USD", format_major(net, "USD"), "", "", "", "", "", "",
                             batch, *([""] * 7), "", closed, "UTC"])
    return [path]


def write_files(processor: str, directory: Path, rows: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return _stripe(directory / "stripe_itemized.csv", rows) if processor == "stripe" else \
        _adyen(directory / "adyen_settlement_details.csv", rows)
