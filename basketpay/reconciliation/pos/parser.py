"""A retailer's point-of-sale feed: the store's card purchases as CSV, read one line at a time.

    store,timestamp,card_last4,total,tax[,currency]

`total` (what the till charged, tax included) and `tax` are in major units ("12.34") and
are scaled exactly by the currency's exponent; `currency` defaults to the merchant's.
Timestamps are ISO 8601, with an offset or Z (none means UTC). Other columns are ignored.
The first bad line rejects the whole file: `FileRejected` names its line (the header is
line 1) and its column.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from basketpay.money import MoneyError, currency_exponent, parse_major
from basketpay.reconciliation.formats.rows import FileRejected

REQUIRED_COLUMNS = ("store", "timestamp", "card_last4", "total", "tax")
TRANSACTIONS_MAX = 100_000  # a store's day is thousands of lines: far more is a wrong file
_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # plain decimals: no signs but minus, no exponents, no separators
_LAST4 = re.compile(r"[0-9]{4}")
AMOUNT_MINOR_MAX = 10**15  # far above any basket, far below the columns' 64 bits
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # timestamps outside these years are a wrong file
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class StoreTransaction:
    line: int  # the file's line number where the record starts (the header is line 1)
    store: str
    occurred_at: dt.datetime  # UTC
    card_last4: str
    currency: str  # ISO 4217, lower case
    total: int  # minor units, tax included
    tax: int  # minor units


def read_feed(lines: Iterable[str], default_currency: str) -> Iterator[StoreTransaction]:
    """Yield the feed's purchases in file order; raise `FileRejected` at the first bad line."""
    records = _records(lines)
    header = next(records, None)
    if header is None:
        raise FileRejected("the file is empty: expected the header " + ",".join(REQUIRED_COLUMNS), line=1)
    columns = _columns(header[1])
    for count, (line, cells) in enumerate(records, start=1):
        if count > TRANSACTIONS_MAX:
            raise FileRejected(f"more than {TRANSACTIONS_MAX:,} purchases in one file", line=line)
        if len(cells) != len(header[1]):
            raise FileRejected(f"{len(cells)} cells where the header has {len(header[1])}", line=line)
        yield _transaction(line, {name: cells[index].strip() for name, index in columns.items()}, default_currency)


def _records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number where it starts, cells) of each non-blank record."""
    reader = csv.reader(lines, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileRejected(f"not valid CSV ({error})", line=start) from None
        if any("\x00" in cell for cell in cells):
            raise FileRejected("a NUL character: not a text file", line=start)
        if any(cell.strip() for cell in cells):
            yield start, cells


def _columns(header: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in header]
    for name in REQUIRED_COLUMNS:
        if name not in names:
            raise FileRejected(f"missing column {name!r} (the header must name " + ", ".join(REQUIRED_COLUMNS) + ")",
                               line=1, column=name)
    wanted = (*REQUIRED_COLUMNS, "currency")
    for name in wanted:
        if names.count(name) > 1:
            raise FileRejected(f"column {name!r} appears twice", line=1, column=name)
    return {name: names.index(name) for name in wanted if name in names}


def _transaction(line: int, cells: dict[str, str], default_currency: str) -> StoreTransaction:
    for name in ("store", "timestamp", "card_last4", "total", "tax"):
        if not cells[name]:
            raise FileRejected("empty value", line=line, column=name)
    if not _LAST4.fullmatch(cells["card_last4"]):
        raise FileRejected(f"{cells['card_last4']!r} is not the card's last 4 digits", line=line, column="card_last4")
    currency = _currency(line, cells.get("currency") or default_currency)
    total, tax = _amount(line, cells, "total", currency), _amount(line, cells, "tax", currency)
    if tax > total:
        raise FileRejected(f"tax {cells['tax']} is more than the total {cells['total']}", line=line, column="tax")
    return StoreTransaction(line, cells["store"], _timestamp(line, cells["timestamp"]), cells["card_last4"],
                            currency, total, tax)


def _currency(line: int, value: str) -> str:
    try:
        currency_exponent(value)
    except MoneyError as error:
        raise FileRejected(str(error), line=line, column="currency") from None
    return value.lower()


def _amount(line: int, cells: dict[str, str], column: str, currency: str) -> int:
    text = cells[column]
    if not _AMOUNT.fullmatch(text):
        raise FileRejected(f"{text!r} is not an amount in major units, such as 12.34", line=line, column=column)
    if text.startswith("-"):
        raise FileRejected(f"{text} is negative", line=line, column=column)
    try:
        amount = parse_major(text, currency)
    except MoneyError as error:
        raise FileRejected(str(error), line=line, column=column) from None
    if amount > AMOUNT_MINOR_MAX:
        raise FileRejected(f"{text} is too large", line=line, column=column)
    return amount


def _timestamp(line: int, text: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(text)
        parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise FileRejected(f"{text!r} is not an ISO 8601 timestamp, such as 2025-03-01T14:05:00Z", line=line,
                           column="timestamp") from None
    if not EARLIEST <= parsed < LATEST:
        raise FileRejected(f"{text} is not between {EARLIEST.year} and {LATEST.year}", line=line, column="timestamp")
    return parsed


__all__ = ["REQUIRED_COLUMNS", "FileRejected", "StoreTransaction", "read_feed"]
