"""Adyen's "Settlement details report": one line per booking in a merchant account's
settlement batch, amounts unsigned in separate debit and credit columns (major units).

Signed, credits positive: gross = Gross Credit - Gross Debit, net = Net Credit - Net Debit,
fee = Commission + Markup + Scheme Fees + Interchange. On every Settled, Refunded and Fee
line Net = Gross - fee, or the file is rejected. A line without a gross (MerchantPayout,
a correction) has gross = net + fee; any other line whose net differs (a Chargeback with
its fee inside Net) has fee = gross - net: what Adyen kept. So net = gross - fee on every row.
Lines in a gross currency other than the net currency are refused (no FX batches yet).

An Adyen batch number is per merchant account and covers every currency, but each currency
is paid out separately: the batch a row reconciles in is "{Merchant Account}:{Batch
Number}:{Net Currency}". Its time is the Booking Date in its zone, else the Creation Date.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial

from basketpay.reconciliation.formats.cells import (
    CellError,
    Memo,
    currency_in,
    locate,
    minor_units_unsigned,
    timestamps_in,
)
from basketpay.reconciliation.formats.fast_rows import settlement_row
from basketpay.reconciliation.formats.rows import FileRejected, SettlementRow

__all__ = ["AdyenSettlementDetails", "brand_and_funding"]

CURRENCY_SPELLINGS_MAX = 64
ZONES_MAX = 64
KINDS = {"Settled": "charge", "Refunded": "refund", "Fee": "fee", "MerchantPayout": "payout"}
NET_RULE_TYPES = frozenset({"Settled", "Refunded", "Fee"})
INFORMATIONAL_TYPES = frozenset({"Received", "Authorised", "SentForSettle", "SentForRefund"})  # no money moves
GENERATED_REFERENCE = "<auto>"  # Adyen's placeholder where it generated the reference itself
BRAND_PREFIXES = (("visa", "visa"), ("mc", "mastercard"), ("amex", "amex"), ("discover", "discover"),
                  ("maestro", "maestro"), ("jcb", "jcb"), ("diners", "diners"), ("cup", "unionpay"))
COLUMNS = ("Merchant Account", "Psp Reference", "Type", "Modification Reference", "Batch Number",
           "Payment Method Variant", "Modification Merchant Reference",
           "Booking Date", "Booking Date TimeZone", "Creation Date", "TimeZone",
           "Gross Currency", "Net Currency", "Gross Debit (GC)", "Gross Credit (GC)", "Net Debit (NC)",
           "Net Credit (NC)", "Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")
# Blended pricing has no interchange++ split; older reports lack the later columns.
OPTIONAL = frozenset({"Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Payment Method Variant",
                      "Modification Merchant Reference", "Booking Date", "Booking Date TimeZone"})
AMOUNT_COLUMNS = COLUMNS[13:]


def brand_and_funding(variant: str) -> tuple[str | None, str | None]:
    """The card brand and funding a Payment Method Variant names: mcdebit -> (mastercard, debit)."""
    brand = next((name for prefix, name in BRAND_PREFIXES if variant.startswith(prefix)), None)
    funding = next((kind for kind in ("prepaid", "debit", "credit") if kind in variant), None)
    return brand, funding if brand else None


def _failing_column(cells: Sequence[str], exponent: int) -> str:
    """Which of AMOUNT_COLUMNS (the last cells) is not an amount: looked for only once one is not."""
    for column, text in zip(AMOUNT_COLUMNS, cells[-len(AMOUNT_COLUMNS):], strict=True):
        try:
            minor_units_unsigned(text, exponent)
        except CellError:
            return column
    return "Net Currency"  # not reached: the rows' loop names the column of anything but an amount


class AdyenSettlementDetails:
    processor = "adyen"
    format = "adyen_settlement_details"

    def __init__(self, header: Sequence[str]) -> None:
        self._pick = locate(header, COLUMNS, OPTIONAL)
        self._currencies = Memo(partial(currency_in, signed=False), CURRENCY_SPELLINGS_MAX)
        self._zones = Memo(timestamps_in, ZONES_MAX)

    def rows(self, records: Iterator[tuple[int, list[str]]]) -> Iterator[SettlementRow]:
        """The lines as rows, in one loop written out for speed (a call costs as much as reading a
        cell); `column` names the cell being read, for the error."""
        pick, currencies, zones, variants = self._pick, self._currencies, self._zones, Memo(brand_and_funding, 256)
        amount = minor_units_unsigned
        for line, cells in records:
            picked = pick(cells)
            (account, psp, kind, modification, batch_number, variant, attempt, booked, booked_zone, created,
             created_zone, gross_currency, currency_text, gross_debit, gross_credit, net_debit, net_credit,
             commission, markup, scheme_fees, interchange) = picked
            if kind in INFORMATIONAL_TYPES:
                continue
            if not (kind and account and batch_number):
                _reject_empty(kind, account, line)
            column = "Net Currency"
            try:
                currency, exponent, fees = currencies[currency_text]
                if gross_currency and gross_currency != currency_text and gross_currency.upper() != currency:
                    column = "Gross Currency"
                    raise CellError(f"gross in {gross_currency}, net in {currency}: basketpay does not reconcile "
                                    "FX batches yet")
                column = ""
                # One of debit and credit is empty: skipping the call for it is a tenth of the line's time.
                gross = ((amount(gross_credit, exponent) if gross_credit else 0)
                         - (amount(gross_debit, exponent) if gross_debit else 0))
                net = ((amount(net_credit, exponent) if net_credit else 0)
                       - (amount(net_debit, exponent) if net_debit else 0))
                fee = fees[commission] + fees[markup] + fees[scheme_fees] + fees[interchange]
                if booked:
                    column = "Booking Date TimeZone"
                    timestamps = zones[booked_zone]
                    column = "Booking Date"
                    booked_at = timestamps[booked]
                else:  # the file or the line has no Booking Date: its Creation Date
                    column = "TimeZone"
                    timestamps = zones[created_zone]
                    column = "Creation Date"
                    booked_at = timestamps[created]
            except CellError as error:
                raise FileRejected(str(error), line=line, column=column or _failing_column(picked, exponent)) from None
            if kind in NET_RULE_TYPES:
                if net != gross - fee:
                    raise FileRejected(f"Net {net} is not Gross {gross} less fees {fee} (minor units)", line=line,
                                       column="Net Credit (NC)" if net_credit else "Net Debit (NC)")
            elif kind == "MerchantPayout" or not (gross_debit or gross_credit):
                gross = net + fee  # a payout or a correction has no gross: what moved is the net
            else:
                fee = gross - net  # a chargeback and the like: whatever Adyen kept of it
            brand, funding = variants[variant]
            yield settlement_row(line, KINDS.get(kind, "adjustment"), modification or None, psp or None,
                                None if attempt == "" or attempt == GENERATED_REFERENCE else attempt, currency,
                                gross, fee, net, f"{account}:{batch_number}:{currency}", booked_at, brand, funding)


def _reject_empty(kind: str, account: str, line: int) -> None:
    column = "Type" if not kind else "Merchant Account" if not account else "Batch Number"
    raise FileRejected("empty: every line has a type, a merchant account and a batch number", line=line,
                       column=column)
