"""Settlement file parsers: the sandboxes' own files round-trip to the cent, "real looking"
files (extra and missing optional columns, empty cells, `<auto>`, fees on refunds, several
batches and currencies, JPY and KWD) parse as the processors mean them, and every bad
file is rejected naming its line and column."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basketpay.money import format_major
from basketpay.reconciliation.formats.cells import CellError, Memo, minor_units, minor_units_unsigned
from basketpay.reconciliation.formats.detect import UNKNOWN_FORMAT, parser_for, read
from basketpay.reconciliation.formats.fast_rows import settlement_row
from basketpay.reconciliation.formats.rows import FileRejected, SettlementRow
from basketpay.sandboxes.adyen_api import settlement as adyen_sandbox
from basketpay.sandboxes.fees import AdyenFees, StripeFees, stripe_fee
from basketpay.sandboxes.stripe_api import settlement as stripe_sandbox

DAY = dt.date(2025, 3, 14)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute), dt.UTC)


def parse_path(path: Path) -> tuple[str, list[SettlementRow]]:
    with path.open(newline="", encoding="utf-8") as file:
        parser, rows = read(file)
        return parser.format, list(rows)


def parse_text(text: str) -> list[SettlementRow]:
    return list(read(io.StringIO(text, newline=""))[1])


def rejected(text: str) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        parse_text(text)
    return caught.value


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue()


# --- the sandboxes' files ---------------------------------------------------------------------------

def stripe_ledger() -> list[stripe_sandbox.BalanceTransaction]:
    fees = StripeFees()

    def line(id_: str, hour: int, currency: str, gross: int, category: str, brand: str,
             created_days_before: int = 0) -> stripe_sandbox.BalanceTransaction:
        fee = stripe_fee(fees, gross, True) if category == "charge" else 0
        available = int(at(hour).timestamp())
        return stripe_sandbox.BalanceTransaction(
            id_, available - created_days_before * 86_400, currency, gross, fee, category, f"src_{id_}",
            f'Order {id_}, "fresh"', f"ch_{id_}", f"pi_{id_}", "cus_1", brand, available_on=available)

    return [line("usd1", 9, "usd", 12345, "charge", "visa"), line("usd2", 10, "usd", -5000, "refund", "visa"),
            line("eur1", 11, "eur", 999, "charge", "mastercard"), line("jpy1", 12, "jpy", 1000, "charge", "amex"),
            line("kwd1", 13, "kwd", 12345, "charge", ""), line("usd3", 14, "usd", 1, "charge", "visa"),
            line("usd4", 15, "usd", 700, "charge", "visa", created_days_before=3)]  # settled late


def test_stripe_sandbox_files_round_trip(tmp_path: Path) -> None:
    ledger = stripe_ledger()
    itemized_path, payouts_path = stripe_sandbox.write_daily_files(ledger, DAY, tmp_path)
    itemized_format, itemized = parse_path(itemized_path)
    payouts_format, payouts = parse_path(payouts_path)
    assert (itemized_format, payouts_format) == ("stripe_itemized_payout_reconciliation", "stripe_payouts")
    by_id = {line.id: line for line in ledger}
    assert sorted(row.row_reference or "" for row in itemized) == sorted(by_id)
    assert [row.line for row in itemized] == list(range(2, len(ledger) + 2))
    payout_of = {row.currency: row for row in payouts}
    for row in itemized:
        line = by_id[row.row_reference or ""]
        assert (row.kind, row.currency, row.gross, row.fee, row.net) == (
            line.reporting_category, line.currency.upper(), line.gross, line.fee, line.net)
        assert (row.payment_reference, row.attempt_reference) == (line.payment_intent_id, None)
        assert row.booked_at == dt.datetime.fromtimestamp(line.available_at, dt.UTC)  # settled, not created
        assert (row.brand, row.funding) == ((line.card_brand, "credit") if line.card_brand else (None, None))
        assert row.batch == payout_of[row.currency].batch
    assert len(payouts) == 4
    for currency, payout in payout_of.items():
        paid = sum(line.net for line in ledger if line.currency.upper() == currency)
        assert (payout.kind, payout.gross, payout.fee, payout.net) == ("payout", -paid, 0, -paid)
        assert payout.row_reference == payout.batch and payout.batch.startswith("po_")
        assert payout.booked_at == dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(), dt.UTC)


def adyen_journal() -> list[adyen_sandbox.JournalLine]:
    fees = AdyenFees()

    def line(kind: str, hour: int, account: str, psp: str, brand: str, funding: str, currency: str, gross: int,
             reference: str) -> adyen_sandbox.JournalLine:
        split = {"Settled": lambda: fees.sale(brand, funding, gross), "Refunded": fees.refund,
                 "Fee": fees.modification}[kind]()
        method = adyen_sandbox.ADYEN_METHODS.get(brand, brand)  # as the sandbox names them: mc, mcdebit, amex
        variant = method if method == "amex" else method + funding
        return adyen_sandbox.JournalLine(kind, at(hour), account, psp, f"order-{psp}", method, variant, currency,
                                         gross, split, f"MOD{hour}", reference)

    return [line("Settled", 9, "ShopA", "PSP1", "visa", "credit", "USD", 12345, "att_1"),
            line("Refunded", 10, "ShopA", "PSP1", "visa", "credit", "USD", -5000, "att_2"),
            line("Fee", 11, "ShopA", "PSP2", "mastercard", "debit", "USD", 0, "<auto>"),
            line("Settled", 12, "ShopA", "PSP3", "mastercard", "debit", "JPY", 1000, ""),
            line("Settled", 13, "ShopB", "PSP4", "amex", "credit", "KWD", 12345, "att_4"),
            line("Settled", 14, "ShopB", "PSP5", "visa", "debit", "USD", 2000, "att_5")]


def test_adyen_sandbox_file_round_trips(tmp_path: Path) -> None:
    journal = adyen_journal()
    assert journal[1].fees.total > 0 and journal[2].gross == 0  # a fee on the refund; a Fee row has no gross
    (path,) = adyen_sandbox.write_daily_files(journal, DAY, tmp_path)
    file_format, rows = parse_path(path)
    assert file_format == "adyen_settlement_details"
    batch_number = (DAY - adyen_sandbox.BATCH_EPOCH).days
    by_reference = {line.modification_reference: line for line in journal}
    kinds = {"Settled": "charge", "Refunded": "refund", "Fee": "fee"}
    brands = {"visacredit": ("visa", "credit"), "visadebit": ("visa", "debit"), "mcdebit": ("mastercard", "debit"),
              "amex": ("amex", None)}
    nets: defaultdict[str, int] = defaultdict(int)
    for row in rows:
        nets[row.batch] += row.net
        if row.kind == "payout":
            assert (row.gross, row.fee, row.payment_reference, row.attempt_reference) == (row.net, 0, None, None)
            assert row.booked_at == at(23, 59) + dt.timedelta(seconds=59)
            continue
        line = by_reference[row.row_reference or ""]
        assert (row.kind, row.currency, row.gross, row.fee, row.net) == (
            kinds[line.type], line.currency, line.gross, line.fees.total, line.net)
        assert row.payment_reference == line.psp_reference
        reference = line.modification_merchant_reference
        assert row.attempt_reference == (None if reference in ("", "<auto>") else reference)
        assert row.batch == f"{line.merchant_account}:{batch_number}:{line.currency}"
        assert row.booked_at == line.created
        assert (row.brand, row.funding) == brands[line.variant]
    assert sum(row.kind == "payout" for row in rows) == 4  # ShopA USD and JPY, ShopB KWD and USD
    assert len(rows) == len(journal) + 4
    assert all(net == 0 for net in nets.values()), nets  # each payout pays its batch's net exactly


# --- real looking files ---------------------------------------------------------------------------

STRIPE_REAL = (
    "\ufeffbalance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,description,"
    "automatic_payout_id,automatic_payout_effective_at,customer_facing_amount,payment_intent_id,card_brand,"
    "card_funding\r\n"
    "txn_1,2025-03-14 09:00:00,usd,100.00,3.20,96.80,charge,\"Order 1, two bags\",po_usd,2025-03-17,100.00,"
    "pi_1,Visa,credit\r\n"
    "txn_2,2025-03-14T10:00:00Z,usd,-20.00,0.00,-20.00,refund,\"Refund\r\nwith a line break\",po_usd,2025-03-17,,"
    "pi_1,Visa,credit\r\n"
    "\r\n"
    ",,,,,,,,,,,,,\r\n"
    "txn_3,2025-03-14 11:00:00,usd,-1.50,0.00,-1.50,fee,Radar,po_usd,2025-03-17,,,,\r\n"
    "txn_4,2025-03-14 11:30:00+01:00,usd,-100.00,15.00,-115.00,dispute,,po_usd,2025-03-17,,pi_9,visa,unknown\r\n"
    "txn_5,2025-03-14 12:00:00,jpy,1000,59,941,charge,,po_jpy,2025-03-17,,,,\r\n"
    "txn_6,2025-03-14 13:00:00,KWD,12.345,0.388,11.957,charge,,po_kwd,2025-03-17,,pi_6,MasterCard,debit\r\n"
    "txn_7,2025-03-14 14:00:00,usd,-2.00,0.00,-2.00,partial_capture_reversal,,po_usd,2025-03-17,,pi_1,,\r\n"
    "txn_8,2025-03-15 00:00:00,usd,-73.30,0.00,-73.30,payout,,po_usd,2025-03-17,,,,\r\n"
)


def test_a_real_looking_stripe_report() -> None:
    rows = parse_text(STRIPE_REAL)
    got = [(row.line, row.kind, row.row_reference, row.currency, row.gross, row.fee, row.net, row.batch,
            row.payment_reference, row.brand, row.funding) for row in rows]
    assert got == [
        (2, "charge", "txn_1", "USD", 10000, 320, 9680, "po_usd", "pi_1", "visa", "credit"),
        (3, "refund", "txn_2", "USD", -2000, 0, -2000, "po_usd", "pi_1", "visa", "credit"),  # 2 lines long
        (7, "fee", "txn_3", "USD", -150, 0, -150, "po_usd", None, None, None),  # after two empty lines
        (8, "adjustment", "txn_4", "USD", -10000, 1500, -11500, "po_usd", "pi_9", "visa", None),
        (9, "charge", "txn_5", "JPY", 1000, 59, 941, "po_jpy", None, None, None),
        (10, "charge", "txn_6", "KWD", 12345, 388, 11957, "po_kwd", "pi_6", "mastercard", "debit"),
        (11, "adjustment", "txn_7", "USD", -200, 0, -200, "po_usd", "pi_1", None, None),
        (12, "payout", "txn_8", "USD", -7330, 0, -7330, "po_usd", None, None, None),
    ]
    assert [row.booked_at for row in rows[:4]] == [at(9), at(10), at(11), at(10, 30)]
    assert all(row.attempt_reference is None for row in rows)


def test_stripe_report_without_the_optional_columns() -> None:
    text = ("automatic_payout_id,balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\n"
            "po_1,txn_1,2025-03-14 09:00:00,eur,10.00,0.59,9.41,charge\n")
    (row,) = parse_text(text)
    assert (row.payment_reference, row.brand, row.funding, row.gross, row.currency) == (None, None, None, 1000, "EUR")


ADYEN_REAL_HEADER = [  # no Reserved, Markup, Scheme Fees, Interchange or Booking Date columns: blended pricing
    "Company Account", "Merchant Account", "Psp Reference", "Merchant Reference", "Payment Method", "Creation Date",
    "TimeZone", "Type", "Modification Reference", "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)",
    "Exchange Rate", "Net Currency", "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)",
    "Payment Method Variant", "Batch Number", "Modification Merchant Reference"]


def adyen_real_line(kind: str, psp: str, modification: str, currency: str, gross: tuple[str, str],
                    net: tuple[str, str], commission: str, variant: str = "", reference: str = "",
                    account: str = "ShopA") -> list[str]:
    return ["Co", account, psp, "", "", "2025-03-14 10:00:00", "CET", kind, modification,
            currency if any(gross) else "", *gross, "1" if any(gross) else "", currency, *net, commission, variant,
            "42", reference]


def test_a_real_looking_adyen_report() -> None:
    lines = [
        adyen_real_line("Settled", "P1", "M1", "EUR", ("", "100.00"), ("", "98.50"), "1.50", "mccredit", "att_1"),
        adyen_real_line("Refunded", "P1", "M2", "EUR", ("20.00", ""), ("20.12", ""), "0.12", "mccredit", "<auto>"),
        adyen_real_line("Fee", "P2", "M3", "EUR", ("", ""), ("0.02", ""), "0.02"),
        adyen_real_line("Chargeback", "P3", "M4", "EUR", ("50.00", ""), ("65.00", ""), "", "visaprepaidanonymous"),
        adyen_real_line("DepositCorrection", "", "M5", "EUR", ("", ""), ("", "5.00"), ""),
        adyen_real_line("SentForSettle", "P6", "M6", "EUR", ("", "1.00"), ("", ""), ""),
        adyen_real_line("Settled", "P7", "M7", "JPY", ("", "1000"), ("", "988"), "12", "amex", "att_7"),
        adyen_real_line("Settled", "P8", "M8", "KWD", ("", "12.345"), ("", "12.333"), "0.012", "ideal", "att_8"),
        adyen_real_line("MerchantPayout", "", "M9", "EUR", ("", ""), ("18.36", ""), ""),
        adyen_real_line("Settled", "P10", "M10", "EUR", ("", "10.00"), ("", "9.90"), "0.10", "visa", "att_10",
                        account="ShopB"),
        adyen_real_line("InvoiceDeduction", "", "M11", "EUR", ("", ""), ("5.12", ""), "0.12", account="ShopB"),
    ]
    rows = parse_text(csv_text(ADYEN_REAL_HEADER, lines))
    got = [(row.line, row.kind, row.row_reference, row.payment_reference, row.attempt_reference, row.currency,
            row.gross, row.fee, row.net, row.batch, row.brand, row.funding) for row in rows]
    assert got == [
        (2, "charge", "M1", "P1", "att_1", "EUR", 10000, 150, 9850, "ShopA:42:EUR", "mastercard", "credit"),
        (3, "refund", "M2", "P1", None, "EUR", -2000, 12, -2012, "ShopA:42:EUR", "mastercard", "credit"),
        (4, "fee", "M3", "P2", None, "EUR", 0, 2, -2, "ShopA:42:EUR", None, None),
        (5, "adjustment", "M4", "P3", None, "EUR", -5000, 1500, -6500, "ShopA:42:EUR", "visa", "prepaid"),
        (6, "adjustment", "M5", None, None, "EUR", 500, 0, 500, "ShopA:42:EUR", None, None),
        (8, "charge", "M7", "P7", "att_7", "JPY", 1000, 12, 988, "ShopA:42:JPY", "amex", None),  # 7: informational
        (9, "charge", "M8", "P8", "att_8", "KWD", 12345, 12, 12333, "ShopA:42:KWD", None, None),
        (10, "payout", "M9", None, None, "EUR", -1836, 0, -1836, "ShopA:42:EUR", None, None),
        (11, "charge", "M10", "P10", "att_10", "EUR", 1000, 10, 990, "ShopB:42:EUR", "visa", None),
        (12, "adjustment", "M11", None, None, "EUR", -500, 12, -512, "ShopB:42:EUR", None, None),  # no gross
    ]
    assert sum(row.net for row in rows if row.batch == "ShopA:42:EUR") == 0
    assert {row.booked_at for row in rows} == {at(9)}  # 10:00 CET, from Creation Date: no Booking Date column


@pytest.mark.parametrize(("zone", "booked", "utc"), [
    ("UTC", "2025-03-14 10:00:00", at(10)), ("GMT", "2025-03-14 10:00:00", at(10)),
    ("Europe/Amsterdam", "2025-03-14 10:00:00", at(9)), ("+02:00", "2025-03-14 10:00:00", at(8)),
    ("CET", "2025-03-14 10:00:00", at(9)), ("PDT", "2025-03-14 03:00:00", at(10)),
    ("America/New_York", "2025-07-01 08:00:00", dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC)),  # summer time
    ("", "", at(11)),  # no Booking Date on the line: its Creation Date in its TimeZone
])
def test_adyen_booking_date_is_read_in_its_zone(zone: str, booked: str, utc: dt.datetime) -> None:
    header = [*ADYEN_REAL_HEADER, "Booking Date", "Booking Date TimeZone"]
    line = adyen_real_line("Settled", "P1", "M1", "EUR", ("", "1.00"), ("", "1.00"), "")
    line[5:7] = ["2025-03-14 11:00:00", "UTC"]
    (row,) = parse_text(csv_text(header, [[*line, booked, zone]]))
    assert row.booked_at == utc and row.booked_at.tzinfo == dt.UTC


# --- rejected files ---------------------------------------------------------------------------------

STRIPE_BASE = {
    "automatic_payout_id": "po_1", "automatic_payout_effective_at": "2025-03-15 00:00:00", "created_utc":
    "2025-03-14 09:00:00", "available_on_utc": "2025-03-14 09:00:00", "currency": "usd", "gross": "10.00",
    "fee": "0.59", "net": "9.41", "reporting_category": "charge", "payment_intent_id": "pi_1", "card_brand": "visa",
    "card_funding": "credit"}


def stripe_text(change: dict[str, str], lines: int = 3) -> str:
    """A valid three-line itemized report with `change` made to its third line (line 4)."""
    header = list(stripe_sandbox.ITEMIZED_COLUMNS)
    rows = [{**STRIPE_BASE, "balance_transaction_id": f"txn_{n}", **(change if n == lines else {})}
            for n in range(1, lines + 1)]
    return csv_text(header, [[row.get(name, "") for name in header] for row in rows])


def adyen_text(change: dict[str, str]) -> str:
    """A valid three-line settlement details report (the sandbox's columns), `change` made to line 4."""
    header = list(adyen_sandbox.COLUMNS)
    base = {"Company Account": "Co", "Merchant Account": "ShopA", "Psp Reference": "P1", "Creation Date":
            "2025-03-14 09:00:00", "TimeZone": "UTC", "Type": "Settled", "Gross Currency": "EUR",
            "Gross Credit (GC)": "10.00", "Exchange Rate": "1", "Net Currency": "EUR", "Net Credit (NC)": "9.70",
            "Commission (NC)": "0.12", "Markup (NC)": "0.06", "Interchange (NC)": "0.12", "Batch Number": "7",
            "Booking Date": "2025-03-14 09:00:00", "Booking Date TimeZone": "UTC"}
    rows = [{**base, "Modification Reference": f"M{n}", **(change if n == 3 else {})} for n in (1, 2, 3)]
    return csv_text(header, [[row.get(name, "") for name in header] for row in rows])


def test_the_valid_templates_parse() -> None:
    assert [row.net for row in parse_text(stripe_text({}))] == [941] * 3
    assert [row.net for row in parse_text(adyen_text({}))] == [970] * 3


@pytest.mark.parametrize(("change", "column", "reason"), [
    ({"gross": "12.3.4"}, "gross", "not a decimal amount"),
    ({"gross": "abc"}, "gross", "not a decimal amount"),
    ({"gross": ""}, "gross", "not a decimal amount"),
    ({"gross": "1,000.00"}, "gross", "not a decimal amount"),
    ({"gross": "1_000.00"}, "gross", "not a decimal amount"),
    ({"gross": " 10.00"}, "gross", "not a decimal amount"),
    ({"gross": "+10.00"}, "gross", "not a decimal amount"),
    ({"gross": "١٠.٠٠"}, "gross", "not a decimal amount"),  # Arabic-Indic digits: isdigit() says yes
    ({"fee": "0.591"}, "fee", "more than 2 decimals"),
    ({"currency": "jpy", "gross": "1000.5", "fee": "0", "net": "1000.5"}, "gross", "more than 0 decimals"),
    ({"net": "9.40"}, "net", "is not gross 10.00 less fee 0.59"),
    ({"currency": "xyz"}, "currency", "unknown currency 'xyz'"),
    ({"available_on_utc": "14/03/2025 09:00"}, "available_on_utc", "not a date and time"),
    ({"available_on_utc": "", "created_utc": "14/03/2025 09:00"}, "created_utc", "not a date and time"),
    ({"automatic_payout_id": ""}, "automatic_payout_id", "empty"),
    ({"currency": "eur"}, "currency", "payout po_1 is in USD; this line is EUR"),
])
def test_a_bad_stripe_line_is_rejected_naming_line_and_column(change: dict[str, str], column: str,
                                                              reason: str) -> None:
    error = rejected(stripe_text(change))
    assert (error.line, error.column) == (4, column)
    assert reason in error.reason


@pytest.mark.parametrize(("change", "column", "reason"), [
    ({"Gross Credit (GC)": "-10.00"}, "Gross Credit (GC)", "negative amount"),
    ({"Commission (NC)": "abc"}, "Commission (NC)", "not a decimal amount"),
    ({"Interchange (NC)": "0.125"}, "Interchange (NC)", "more than 2 decimals"),
    ({"Net Credit (NC)": "9.71"}, "Net Credit (NC)", "Net 971 is not Gross 1000 less fees 30"),
    ({"Net Credit (NC)": "", "Net Debit (NC)": "9.70"}, "Net Debit (NC)", "is not Gross"),
    ({"Net Currency": "XYZ", "Gross Currency": "XYZ"}, "Net Currency", "unknown currency 'XYZ'"),
    ({"Gross Currency": "USD"}, "Gross Currency", "basketpay does not reconcile FX batches yet"),
    ({"Booking Date": "2025-02-30 09:00:00"}, "Booking Date", "not a date and time"),
    ({"Booking Date TimeZone": "Mars/Olympus"}, "Booking Date TimeZone", "unknown time zone"),
    ({"Booking Date": "", "Creation Date": "yesterday"}, "Creation Date", "not a date and time"),
    ({"Batch Number": ""}, "Batch Number", "empty"),
    ({"Type": ""}, "Type", "empty"),
])
def test_a_bad_adyen_line_is_rejected_naming_line_and_column(change: dict[str, str], column: str,
                                                             reason: str) -> None:
    error = rejected(adyen_text(change))
    assert (error.line, error.column) == (4, column)
    assert reason in error.reason


def test_a_missing_column_is_named_on_line_1() -> None:
    stripe_lines = stripe_text({}).splitlines(keepends=True)
    stripe_lines[0] = stripe_lines[0].replace(",net,", ",net_amount,")
    adyen_lines = adyen_text({}).splitlines(keepends=True)
    adyen_lines[0] = adyen_lines[0].replace("Batch Number", "Batch")
    for lines, column in ((stripe_lines, "net"), (adyen_lines, "Batch Number")):
        error = rejected("".join(lines))
        assert (error.line, error.column, error.reason) == (1, column, "missing column")


@pytest.mark.parametrize("text", ["", "\n", "date,amount\n2025-03-14,10.00\n"])
def test_a_file_of_no_known_format_is_rejected_on_line_1(text: str) -> None:
    error = rejected(text)
    assert error.line == 1 and UNKNOWN_FORMAT in error.reason


def test_a_ragged_line_is_rejected_naming_the_line() -> None:
    lines = stripe_text({}).splitlines(keepends=True)
    short = lines[:3] + [lines[3].rsplit(",", 1)[0] + "\r\n"]
    error = rejected("".join(short))
    assert (error.line, error.column) == (4, "card_country")  # the first column the line lacks
    error = rejected("".join(lines[:3] + [lines[3].rstrip() + ",extra\r\n"]))
    assert error.line == 4 and "19 cells where the header has 18" in error.reason


@pytest.mark.parametrize(("cell", "reason"), [('"Order 1"x', "not CSV: ',' expected after '\"'"),
                                              ('"Order 1', "not CSV: unexpected end of data")])
def test_malformed_csv_is_rejected_naming_the_line(cell: str, reason: str) -> None:
    lines = stripe_text({}).splitlines(keepends=True)
    lines[3] = lines[3].replace(",,", f",{cell},", 1)  # into the first empty cell (source_id)
    error = rejected("".join(lines))
    assert (error.line, error.reason) == (4, reason)


PAYOUT_LINE = ["po_1", "2025-03-15 00:00:00", "usd", "10.00", "0.59", "9.41", "1"]


@pytest.mark.parametrize(("index", "cell", "column", "reason"), [
    (2, "eur", "currency", "payout po_1 is in USD; this line is EUR"),
    (5, "9.40", "net", "net 9.40 is not gross 10.00 less fee 0.59"),
    (3, "10,00", "gross", "not a decimal amount: '10,00'"),
    (1, "tomorrow", "automatic_payout_effective_at", "not a date and time: 'tomorrow' (expected YYYY-MM-DD HH:MM:SS)"),
    (0, "", "automatic_payout_id", "empty: every line is paid in a payout"),
])
def test_a_bad_stripe_payouts_line_is_rejected(index: int, cell: str, column: str, reason: str) -> None:
    bad = list(PAYOUT_LINE)
    bad[index] = cell
    error = rejected(csv_text(list(stripe_sandbox.PAYOUT_COLUMNS), [PAYOUT_LINE, bad]))
    assert (error.line, error.column, error.reason) == (3, column, reason)


def test_read_streams_one_line_at_a_time() -> None:
    lines = stripe_text({"gross": "bad"}).splitlines(keepends=True)

    def lines_read_so_far() -> Iterator[str]:
        yield from lines[:2]
        raise AssertionError("read past the first data line")

    parser, rows = read(lines_read_so_far())
    assert (parser.processor, next(rows).line) == ("stripe", 2)
    parser, rows = read(lines)  # the bad line 4 is met when it is reached, not before
    assert [next(rows).line, next(rows).line] == [2, 3]
    with pytest.raises(FileRejected):
        next(rows)


def test_settlement_row_builds_what_the_constructor_builds() -> None:
    values = (2, "charge", "txn_1", "pi_1", None, "USD", 1234, 66, 1168, "po_1", at(9), "visa", "credit")
    fast, slow = settlement_row(*values), SettlementRow(*values)
    assert (fast, hash(fast), repr(fast)) == (slow, hash(slow), repr(slow))
    assert settlement_row(*values[:11]) == SettlementRow(*values[:11])  # brand and funding default to None
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.gross = 0  # type: ignore[misc]


def test_parser_for_picks_by_the_header() -> None:
    picked = [parser_for(list(columns)) for columns in (stripe_sandbox.ITEMIZED_COLUMNS,
                                                         stripe_sandbox.PAYOUT_COLUMNS, adyen_sandbox.COLUMNS)]
    assert [(parser.processor, parser.format) for parser in picked] == [
        ("stripe", "stripe_itemized_payout_reconciliation"), ("stripe", "stripe_payouts"),
        ("adyen", "adyen_settlement_details")]


@given(st.integers(-10**15, 10**15), st.sampled_from(["USD", "JPY", "KWD", "CLF"]))
def test_amounts_read_back_what_money_formats(amount: int, currency: str) -> None:
    exponent = {"USD": 2, "JPY": 0, "KWD": 3, "CLF": 4}[currency]
    assert minor_units(format_major(amount, currency), exponent) == amount
    assert minor_units_unsigned(format_major(abs(amount), currency), exponent) == abs(amount)


def test_a_memo_remembers_values_not_errors_and_stays_bounded() -> None:
    calls: list[str] = []

    def cents(text: str) -> int:
        calls.append(text)
        return minor_units(text, 2)

    memo = Memo(cents, 2)
    assert [memo["1.00"], memo["1.00"], memo["2.00"]] == [100, 100, 200] and calls == ["1.00", "2.00"]
    with pytest.raises(CellError):
        memo["x"]
    assert "x" not in memo
    assert memo["3.00"] == 300 and len(memo) == 1  # full: emptied, then the new value
