"""The point-of-sale feed parser: exact amounts, timestamps in UTC, and every bad line
rejected with its line and column."""

from __future__ import annotations

import datetime as dt

import pytest

from basketpay.orders.basket import Basket, Line
from basketpay.reconciliation.pos.parser import FileRejected, StoreTransaction, read_feed
from basketpay.reconciliation.pos.store_charges import StoreCharges, store_charges

HEADER = "store,timestamp,card_last4,total,tax\n"


def _read(text: str, currency: str = "usd") -> list[StoreTransaction]:
    return list(read_feed(text.splitlines(keepends=True), currency))


def test_a_feed_reads_into_minor_units_and_utc() -> None:
    rows = _read("Store,Timestamp,Card_Last4,Total,Tax,Extra\r\n"
                 "s1,2025-03-01T14:05:00Z,4242,28.07,0.84,x\r\n"
                 "\r\n"
                 "\"s2, Main St\",2025-03-01T09:05:00-05:00,0005,1,0.1,\n"
                 "s3,2025-03-01 14:05:00,1234,0.00,0,\n")
    assert [(row.line, row.store, row.card_last4, row.total, row.tax) for row in rows] == [
        (2, "s1", "4242", 2807, 84), (4, "s2, Main St", "0005", 100, 10), (5, "s3", "1234", 0, 0)]
    moment = dt.datetime(2025, 3, 1, 14, 5, tzinfo=dt.UTC)
    assert all(row.occurred_at == moment and row.currency == "usd" for row in rows)


def test_the_currency_column_and_its_exponent() -> None:
    rows = _read("store,timestamp,card_last4,total,tax,currency\n"
                 "s,2025-03-01T00:00:00Z,4242,1200,0,JPY\n"
                 "s,2025-03-01T00:00:00Z,4242,1.234,0.1,kwd\n"
                 "s,2025-03-01T00:00:00Z,4242,1.23,0.1,\n", currency="eur")
    assert [(row.currency, row.total, row.tax) for row in rows] == [("jpy", 1200, 0), ("kwd", 1234, 100),
                                                                    ("eur", 123, 10)]


@pytest.mark.parametrize(("text", "line", "column"), [
    ("", 1, None),
    ("store,timestamp,card_last4,total\n", 1, "tax"),
    ("store,timestamp,card_last4,total,tax,tax\n", 1, "tax"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,12.345,0\n", 2, "total"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,1e3,0\n", 2, "total"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,$12.00,0\n", 2, "total"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,-1.00,0\n", 2, "total"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,1.00,-0.01\n", 2, "tax"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,1.00,1.01\n", 2, "tax"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,1.00,\n", 2, "tax"),
    (HEADER + "s,2025-03-01T00:00:00Z,424,1.00,0\n", 2, "card_last4"),
    (HEADER + "s,2025-03-01T00:00:00Z,42424,1.00,0\n", 2, "card_last4"),
    (HEADER + "s,2025-03-01T00:00:00Z,42a4,1.00,0\n", 2, "card_last4"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,1.00,0\ns,yesterday,4242,1.00,0\n", 3, "timestamp"),
    (HEADER + "s,2025-02-30T00:00:00Z,4242,1.00,0\n", 2, "timestamp"),
    (HEADER + "s,0001-01-01T00:00:00+01:00,4242,1.00,0\n", 2, "timestamp"),
    (HEADER + "s,1999-12-31T23:59:59Z,4242,1.00,0\n", 2, "timestamp"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,99999999999999999999.00,0\n", 2, "total"),
    (HEADER + ",2025-03-01T00:00:00Z,4242,1.00,0\n", 2, "store"),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,1.00\n", 2, None),
    (HEADER + "s,2025-03-01T00:00:00Z,4242,1.00,0,extra\n", 2, None),
    (HEADER + "\"s,2025-03-01T00:00:00Z,4242,1.00,0\n", 2, None),
    ("store,timestamp,card_last4,total,tax,currency\ns,2025-03-01T00:00:00Z,4242,1.00,0,xyz\n", 2, "currency"),
])
def test_a_bad_file_is_rejected_naming_line_and_column(text: str, line: int, column: str | None) -> None:
    with pytest.raises(FileRejected) as rejected:
        _read(text)
    assert (rejected.value.line, rejected.value.column) == (line, column)
    if column:
        assert f"line {line}, column {column!r}" in str(rejected.value)


def test_the_store_charges_items_tax_and_deposits_not_fees_or_tip() -> None:
    basket = Basket("usd", (Line("soda", 199, 6, tax_rate_bps=700, deposit_per_unit=5),
                            Line("beef", 899, 1_250, weighed=True, snap_eligible=True)),
                    fees=(("delivery", 399),), tip=500)
    # soda 1,194 + tax 84 (7%, rounded half up) + deposits 30; beef 1.25 lb = 1,124 (1,123.75 rounded up)
    assert store_charges(basket) == StoreCharges(total=1_194 + 84 + 30 + 1_124, tax=84)
