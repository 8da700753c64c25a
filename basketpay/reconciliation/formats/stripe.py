"""Stripe's settlement files: the "itemized payout reconciliation" report (one line per
balance transaction, with the automatic payout that pays it out) and the payouts summary
the Stripe sandbox writes beside it (one line per payout).

Amounts are signed major units ("12.34", "-5.00", "1000" in JPY); net = gross - fee on
every line. Stripe's report does not carry basketpay's attempt key, so rows match by
PaymentIntent. The itemized report's loop is written out for speed (it has a million
lines); `column` names the cell being read, for the error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from functools import partial

from basketpay.reconciliation.formats.cells import CellError, Memo, currency_in, locate, minor_units, timestamps_in
from basketpay.reconciliation.formats.fast_rows import settlement_row
from basketpay.reconciliation.formats.rows import FileRejected, SettlementRow

__all__ = ["StripeItemized", "StripePayouts"]

PAYOUTS_PER_FILE_MAX = 100_000  # the payout -> currency check holds one entry per payout
CURRENCY_SPELLINGS_MAX = 64
# `partial_capture_reversal` (the uncaptured rest of a legacy partially captured charge) is
# not a refund basketpay made: as an adjustment it reaches a person instead of a refund match.
KINDS = {"charge": "charge", "refund": "refund", "fee": "fee", "stripe_fee": "fee", "network_cost": "fee",
         "payout": "payout"}
BRANDS = {"american express": "amex", "master card": "mastercard", "diners club": "diners"}


def _brand(text: str) -> str | None:
    lower = text.strip().lower()
    return BRANDS.get(lower, lower) or None


def _funding(text: str) -> str | None:
    lower = text.strip().lower()
    return None if lower in ("", "unknown") else lower


class _Stripe:
    """What both files share: currencies, timestamps (UTC) and one currency per payout."""

    def __init__(self) -> None:
        self._currencies = Memo(partial(currency_in, signed=True), CURRENCY_SPELLINGS_MAX)
        self._timestamps = timestamps_in("UTC")
        self._payout_currency: dict[str, str] = {}

    def _check_payout(self, payout: str, currency: str, line: int) -> None:
        if not payout:
            raise FileRejected("empty: every line is paid in a payout", line=line, column="automatic_payout_id")
        known = self._payout_currency.setdefault(payout, currency)
        if known != currency:
            raise FileRejected(f"payout {payout} is in {known}; this line is {currency}", line=line, column="currency")
        if len(self._payout_currency) > PAYOUTS_PER_FILE_MAX:
            raise FileRejected(f"more than {PAYOUTS_PER_FILE_MAX} payouts in one file", line=line,
                               column="automatic_payout_id")


class StripeItemized(_Stripe):
    processor = "stripe"
    format = "stripe_itemized_payout_reconciliation"
    COLUMNS = ("automatic_payout_id", "balance_transaction_id", "created_utc", "available_on_utc", "currency",
               "gross", "fee", "net", "reporting_category", "payment_intent_id", "card_brand", "card_funding")
    # payment_intent_id and the card's are not among Stripe's default columns. A line is booked
    # when its funds are available (settled), so one settled late is a timing break; a report
    # without available_on_utc books lines when created.
    OPTIONAL = frozenset({"available_on_utc", "payment_intent_id", "card_brand", "card_funding"})

    def __init__(self, header: Sequence[str]) -> None:
        super().__init__()
        self._pick = locate(header, self.COLUMNS, self.OPTIONAL)

    def rows(self, records: Iterator[tuple[int, list[str]]]) -> Iterator[SettlementRow]:
        pick, currencies, timestamps, payouts = self._pick, self._currencies, self._timestamps, self._payout_currency
        brands, fundings = Memo(_brand, 256), Memo(_funding, 256)
        for line, cells in records:
            (payout, transaction, created, available, currency_text, gross_text, fee_text, net_text, category, intent,
             brand, funding) = pick(cells)
            column = "currency"
            try:  # written out, as in no other loop here: a call costs as much as reading a cell
                currency, exponent, fees = currencies[currency_text]
                column = "gross"
                gross = minor_units(gross_text, exponent)
                column = "fee"
                fee = fees[fee_text]
                column = "net"
                net = minor_units(net_text, exponent)
                column = "available_on_utc" if available else "created_utc"
                booked_at = timestamps[available or created]
            except CellError as error:
                raise FileRejected(str(error), line=line, column=column) from None
            if net != gross - fee:
                raise FileRejected(f"net {net_text} is not gross {gross_text} less fee {fee_text}", line=line,
                                   column="net")
            if payouts.get(payout) != currency:
                self._check_payout(payout, currency, line)
            yield settlement_row(line, KINDS.get(category, "adjustment"), transaction or None, intent or None, None,
                                currency, gross, fee, net, payout, booked_at, brands[brand], fundings[funding])


class StripePayouts(_Stripe):
    """Each payout as one row: the amount paid to the bank leaves the balance, so gross and
    net are minus the payout's net and the fee is 0 (the fees are on the itemized lines)."""

    processor = "stripe"
    format = "stripe_payouts"
    COLUMNS = ("automatic_payout_id", "automatic_payout_effective_at", "currency", "gross", "fee", "net")

    def __init__(self, header: Sequence[str]) -> None:
        super().__init__()
        self._pick = locate(header, self.COLUMNS)

    def rows(self, records: Iterator[tuple[int, list[str]]]) -> Iterator[SettlementRow]:
        for line, cells in records:
            payout, effective_at, *money = self._pick(cells)
            currency, _, _, paid = self._amounts(money, line)
            self._check_payout(payout, currency, line)
            booked_at = self._booked(effective_at, line, "automatic_payout_effective_at")
            yield settlement_row(line, "payout", payout, None, None, currency, -paid, 0, -paid, payout, booked_at)

    def _amounts(self, cells: Sequence[str], line: int) -> tuple[str, int, int, int]:
        """(currency, gross, fee, net) of cells (currency, gross, fee, net), with net = gross - fee."""
        column = "currency"
        try:
            currency, exponent, _ = self._currencies[cells[0]]
            column = "gross"
            gross = minor_units(cells[1], exponent)
            column = "fee"
            fee = minor_units(cells[2], exponent)
            column = "net"
            net = minor_units(cells[3], exponent)
        except CellError as error:
            raise FileRejected(str(error), line=line, column=column) from None
        if net != gross - fee:
            raise FileRejected(f"net {cells[3]} is not gross {cells[1]} less fee {cells[2]}", line=line, column="net")
        return currency, gross, fee, net

    def _booked(self, text: str, line: int, column: str) -> dt.datetime:
        try:
            return self._timestamps[text]
        except CellError as error:
            raise FileRejected(str(error), line=line, column=column) from None
