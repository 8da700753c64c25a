"""The Stripe sandbox's balance: one balance transaction per capture and per refund,
with Stripe's fee, and the day's settlement files written from it: Stripe's
"itemized payout reconciliation" CSV and a payouts summary (one automatic payout per
currency per day, paying the day's net). Amounts in files are major units.

The sandbox makes funds available at once (`available_on` = `created`) and pays a
day out at 00:00 UTC the next day: a day's files hold the lines available that day.
Injected settlement faults (sandboxes/settlement_faults) change the files, never the ledger.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from basketpay.ids import new_id
from basketpay.invariant import invariant
from basketpay.money import format_major
from basketpay.sandboxes.fees import stripe_fee
from basketpay.sandboxes.settlement_faults import SettlementFault
from basketpay.sandboxes.stripe_api.settlement_faults import settled_lines

if TYPE_CHECKING:
    from basketpay.sandboxes.stripe_api.intents import PaymentIntent
    from basketpay.sandboxes.stripe_api.store import Store

__all__ = ["ITEMIZED_COLUMNS", "PAYOUT_COLUMNS", "BalanceTransaction", "record_capture", "record_refund",
           "settlement_endpoint", "write_daily_files"]

ITEMIZED_COLUMNS = (
    "automatic_payout_id", "automatic_payout_effective_at", "balance_transaction_id", "created_utc",
    "available_on_utc", "currency", "gross", "fee", "net", "reporting_category", "source_id", "description",
    "charge_id", "payment_intent_id", "customer_id", "card_brand", "card_funding", "card_country",
)
PAYOUT_COLUMNS = ("automatic_payout_id", "automatic_payout_effective_at", "currency", "gross", "fee", "net",
                  "balance_transaction_count")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    id: str
    created: int  # unix seconds
    currency: str
    gross: int  # signed minor units: a refund is negative
    fee: int
    reporting_category: str  # "charge" or "refund"
    source_id: str
    description: str
    charge_id: str
    payment_intent_id: str
    customer_id: str
    card_brand: str
    available_on: int | None = None  # unix seconds; None: at once (`created`); later only when settled late

    @property
    def net(self) -> int:
        return self.gross - self.fee

    @property
    def available_at(self) -> int:
        return self.created if self.available_on is None else self.available_on


def _line(intent: PaymentIntent, now: int, gross: int, fee: int, category: str, source: str) -> BalanceTransaction:
    brand = intent.payment_method.brand if intent.payment_method else ""
    return BalanceTransaction(new_id("txn"), now, intent.currency, gross, fee, category, source,
                              intent.description or "", intent.latest_charge or "", intent.id,
                              intent.customer or "", brand)


def record_capture(store: Store, intent: PaymentIntent, captured_minor: int, first_capture: bool, now: int) -> None:
    if captured_minor > 0:
        fee = stripe_fee(store.config.fees, captured_minor, first_capture)
        store.ledger.append(_line(intent, now, captured_minor, fee, "charge", intent.latest_charge or ""))


def record_refund(store: Store, intent: PaymentIntent, refund: dict[str, Any]) -> None:
    # Stripe does not return the processing fee of a refunded charge.
    store.ledger.append(_line(intent, refund["created"], -refund["amount"], 0, "refund", refund["id"]))


def _utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _payout_id(day: dt.date, currency: str, lines: Sequence[BalanceTransaction]) -> str:
    digest = hashlib.sha256(f"{day}:{currency}:{','.join(line.id for line in lines)}".encode()).hexdigest()
    return "po_" + digest[:24]


def _write(path: Path, columns: Sequence[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def _itemized_row(line: BalanceTransaction, payout_id: str, effective_at: str) -> list[str]:
    created, available = (_utc(seconds).strftime(TIME_FORMAT) for seconds in (line.created, line.available_at))
    amounts = [format_major(value, line.currency) for value in (line.gross, line.fee, line.net)]
    return [payout_id, effective_at, line.id, created, available, line.currency, *amounts, line.reporting_category,
            line.source_id, line.description, line.charge_id, line.payment_intent_id, line.customer_id,
            line.card_brand, "credit" if line.card_brand else "", "US" if line.card_brand else ""]


def write_daily_files(source: Store | Sequence[BalanceTransaction], day: dt.date, out_dir: Path, *,
                      faults: Sequence[SettlementFault] = ()) -> list[Path]:
    """Write `day`'s (UTC) balance transactions, as altered by `faults`; the same ledger and
    faults always give the same files."""
    ledger = settled_lines(source if isinstance(source, Sequence) else source.ledger, faults)
    todays = [line for line in ledger if _utc(line.available_at).date() == day]
    effective_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).strftime(TIME_FORMAT)
    itemized: list[list[str]] = []
    payouts: list[list[str]] = []
    for currency in sorted({line.currency for line in todays}):
        lines = [line for line in todays if line.currency == currency]
        payout_id = _payout_id(day, currency, lines)
        itemized += [_itemized_row(line, payout_id, effective_at) for line in lines]
        gross, fee, net = (sum(line.gross for line in lines), sum(line.fee for line in lines),
                           sum(line.net for line in lines))
        invariant(net == gross - fee, "a payout's net is its gross less its fees")
        payouts.append([payout_id, effective_at, currency, *(format_major(v, currency) for v in (gross, fee, net)),
                        str(len(lines))])
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        _write(out_dir / f"stripe_itemized_payout_reconciliation_{day}.csv", ITEMIZED_COLUMNS, itemized),
        _write(out_dir / f"stripe_payouts_{day}.csv", PAYOUT_COLUMNS, payouts),
    ]


def _json(body: dict[str, Any], status_code: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status_code, media_type="application/json")


async def settlement_endpoint(request: Request) -> Response:
    """Sandbox-only: `POST /__sandbox/settlement?date=YYYY-MM-DD` writes that day's files."""
    store: Store = request.app.state.sandbox.store
    if store.config.settlement_dir is None:
        return _json({"error": "settlement_dir is not configured"}, 400)
    try:
        day = dt.date.fromisoformat(request.query_params.get("date", ""))
    except ValueError:
        return _json({"error": "date must be YYYY-MM-DD"}, 400)
    async with store.lock:
        ledger = list(store.ledger)
    faults = request.app.state.sandbox.settlement_faults.faults  # POST /__sandbox/settlement_faults
    paths = write_daily_files(ledger, day, Path(store.config.settlement_dir), faults=faults)
    return _json({"paths": [str(path) for path in paths]})
