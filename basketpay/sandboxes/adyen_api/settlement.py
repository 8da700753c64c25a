"""The Adyen sandbox's journal: one line per settled capture, refund and charged
modification, with its interchange++ fee split, and the day's "Settlement details
report" written from it. Each (merchant account, currency) of a day is one batch,
closed by a MerchantPayout row paying the batch's net. Amounts in files are major units.

On every Settled, Refunded and Fee row, with credits positive and debits negative:
Net = Gross - Commission - Markup - Scheme Fees - Interchange.

A day's report holds the lines booked that day. Injected settlement faults
(sandboxes/settlement_faults) change the report, never the journal.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import JSONResponse

from basketpay.invariant import invariant
from basketpay.money import format_major
from basketpay.sandboxes.adyen_api.settlement_faults import settled_lines
from basketpay.sandboxes.fees import AdyenFees, AdyenFeeSplit
from basketpay.sandboxes.settlement_faults import SettlementFault, SettlementFaults

if TYPE_CHECKING:
    from basketpay.sandboxes.adyen_api.payments import Modification, Payment
    from basketpay.sandboxes.adyen_api.store import Store

__all__ = ["COLUMNS", "JournalLine", "modification_line", "sale_line", "settlement_route", "write_daily_files"]

COLUMNS = (
    "Company Account", "Merchant Account", "Psp Reference", "Merchant Reference", "Payment Method",
    "Creation Date", "TimeZone", "Type", "Modification Reference", "Gross Currency", "Gross Debit (GC)",
    "Gross Credit (GC)", "Exchange Rate", "Net Currency", "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)",
    "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Payment Method Variant", "Batch Number",
    *(f"Reserved{number}" for number in range(4, 11)),
    "Modification Merchant Reference", "Booking Date", "Booking Date TimeZone",
)
COMPANY_ACCOUNT = "BasketpaySandbox"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
BATCH_EPOCH = dt.date(2000, 1, 1)  # batch numbers count days from here, so a day's batch number is stable
ADYEN_METHODS = {"mastercard": "mc"}


@dataclass(frozen=True, slots=True)
class JournalLine:
    type: str  # "Settled", "Refunded" or "Fee"
    created: dt.datetime  # UTC
    merchant_account: str
    psp_reference: str
    merchant_reference: str
    payment_method: str
    variant: str
    currency: str
    gross: int  # signed minor units: a credit to the merchant is positive
    fees: AdyenFeeSplit
    modification_reference: str
    modification_merchant_reference: str
    booked: dt.datetime | None = None  # UTC; None: when created; later only when settled late

    @property
    def net(self) -> int:
        return self.gross - self.fees.total

    @property
    def booked_at(self) -> dt.datetime:
        return self.created if self.booked is None else self.booked


def _method(payment: Payment) -> tuple[str, str]:
    method = ADYEN_METHODS.get(payment.brand, payment.brand)
    return method, method if method == "amex" else method + payment.funding


def sale_line(fees: AdyenFees, payment: Payment, amount_minor: int, modification_reference: str,
              modification_merchant_reference: str, now: dt.datetime) -> JournalLine:
    method, variant = _method(payment)
    return JournalLine("Settled", now, payment.merchant_account, payment.psp_reference,
                       payment.merchant_reference, method, variant, payment.currency, amount_minor,
                       fees.sale(payment.brand, payment.funding, amount_minor), modification_reference,
                       modification_merchant_reference)


def modification_line(fees: AdyenFees, payment: Payment, modification: Modification, now: dt.datetime) -> JournalLine:
    """A succeeded modification's line: a capture settles, a refund is debited, anything else is a Fee."""
    amount = modification.amount_minor or 0
    reference = modification.reference or ""
    if modification.kind == "captures":
        return sale_line(fees, payment, amount, modification.psp_reference, reference, now)
    method, variant = _method(payment)
    kind, gross, split = ("Refunded", -amount, fees.refund()) if modification.kind == "refunds" else \
        ("Fee", 0, fees.modification())
    return JournalLine(kind, now, payment.merchant_account, payment.psp_reference, payment.merchant_reference,
                       method, variant, payment.currency, gross, split, modification.psp_reference, reference)


def _debit_credit(amount: int, currency: str) -> list[str]:
    if amount == 0:
        return ["", ""]
    return ["", format_major(amount, currency)] if amount > 0 else [format_major(-amount, currency), ""]


def _row(line: JournalLine, batch: int) -> list[str]:
    created, booked, cur = line.created.strftime(TIME_FORMAT), line.booked_at.strftime(TIME_FORMAT), line.currency
    fees = [format_major(v, cur) if v else "" for v in (line.fees.commission, line.fees.markup,
                                                        line.fees.scheme_fees, line.fees.interchange)]
    gross = _debit_credit(line.gross, cur)
    return [COMPANY_ACCOUNT, line.merchant_account, line.psp_reference, line.merchant_reference, line.payment_method,
            created, "UTC", line.type, line.modification_reference, cur if line.gross else "", *gross,
            "1" if line.gross else "", cur, *_debit_credit(line.net, cur), *fees, line.variant, str(batch),
            *([""] * 7), line.modification_merchant_reference, booked, "UTC"]


def _payout_row(merchant_account: str, currency: str, net: int, day: dt.date, batch: int) -> list[str]:
    reference = hashlib.sha256(f"{merchant_account}:{currency}:{day}".encode()).hexdigest()[:16].upper()
    closed = f"{day} 23:59:59"
    return [COMPANY_ACCOUNT, merchant_account, "", "", "", closed, "UTC", "MerchantPayout", reference, "", "", "",
            "", currency, *_debit_credit(-net, currency), "", "", "", "", "", str(batch), *([""] * 7), "",
            closed, "UTC"]


def write_daily_files(source: Store | Sequence[JournalLine], day: dt.date, out_dir: Path, *,
                      faults: Sequence[SettlementFault] = ()) -> list[Path]:
    """Write `day`'s (UTC) report, as altered by `faults`; the same journal and faults always
    give the same file."""
    journal = settled_lines(source if isinstance(source, Sequence) else source.ledger, faults)
    todays = [line for line in journal if line.booked_at.date() == day]
    batch = (day - BATCH_EPOCH).days
    rows: list[list[str]] = []
    for account, currency in sorted({(line.merchant_account, line.currency) for line in todays}):
        lines = [line for line in todays if (line.merchant_account, line.currency) == (account, currency)]
        for line in lines:
            invariant(line.net == line.gross - line.fees.total, "Net = Gross - fees on every row")
            rows.append(_row(line, batch))
        rows.append(_payout_row(account, currency, sum(line.net for line in lines), day, batch))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"adyen_settlement_detail_report_{day}.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return [path]


def settlement_route(store: Store, settlement_dir: str | None,
                     faults: SettlementFaults | None = None) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Sandbox-only: `POST /__sandbox/settlement?date=YYYY-MM-DD` writes that day's report,
    with the faults set by `POST /__sandbox/settlement_faults`."""
    injected = SettlementFaults() if faults is None else faults

    async def write_settlement(request: Request) -> JSONResponse:
        if settlement_dir is None:
            return JSONResponse({"error": "settlement_dir is not configured"}, status_code=400)
        try:
            day = dt.date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            return JSONResponse({"error": "date must be YYYY-MM-DD"}, status_code=400)
        async with store.lock:
            journal = list(store.ledger)
        paths = write_daily_files(journal, day, Path(settlement_dir), faults=injected.faults)
        return JSONResponse({"paths": [str(path) for path in paths]})

    return write_settlement
