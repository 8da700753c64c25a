"""Reading the cells every settlement format shares: columns located by name, amounts in
major units, currencies and timestamps.

A million-line file reads each of these cells a million times. Where values repeat (a file
has a few currencies and zones, many lines a second) a parser reads them through a `Memo`:
a dict lookup on a hit, the function below on a miss. Amounts are parsed each time: a memo
of prices, a table of a hundred thousand, measured slower than parsing "12.34" (its
lookups miss the CPU cache); fees, a few hundred figures, go through one. A cell that is not understood raises `CellError`, which
the parser turns into `FileRejected` naming the line and the column. No `Decimal`, no
float: an amount is checked as ASCII digits and read with one `int()`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from functools import partial
from operator import itemgetter
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from basketpay.money import CURRENCY_EXPONENTS
from basketpay.reconciliation.formats.rows import FileRejected

__all__ = ["CellError", "Memo", "Picker", "currency_in", "currency_of", "locate", "minor_units", "minor_units_unsigned",
           "timestamps_in", "utc", "zone_of"]

FEES_CACHED_MAX = 4_096  # per currency and parser: a file's fees are a few hundred distinct figures
TIMESTAMPS_CACHED_MAX = 16_384  # per zone and parser: files are in time order, many lines a second
UTC_NAMES = frozenset({"UTC", "GMT", "Z", "Etc/UTC", "Etc/GMT"})
# Abbreviations reports write that are no IANA name; each is one offset (CST and IST are
# ambiguous and left out; CET, EET, EST and the like are IANA names).
ABBREVIATION_HOURS = {"CEST": 2, "EEST": 3, "WEST": 1, "BST": 1, "PST": -8, "PDT": -7, "MDT": -6, "EDT": -4,
                      "AEST": 10, "AEDT": 11}

Picker = Callable[[list[str]], tuple[str, ...]]
T = TypeVar("T")


class CellError(ValueError):
    """One cell that cannot be read; the parser adds the line and the column."""


class Memo(dict[str, T]):
    """`function` of a cell's text, remembered: a hit is one dict lookup in C (`memo[text]`),
    where a call of the function costs a microsecond. Emptied when full, which keeps it
    bounded and, for a file in time order, keeps the recent timestamps."""

    def __init__(self, function: Callable[[str], T], size_max: int) -> None:
        super().__init__()
        self._function, self._size_max = function, size_max

    def __missing__(self, text: str) -> T:
        value = self._function(text)  # CellError propagates and nothing is remembered
        if len(self) >= self._size_max:
            self.clear()
        self[text] = value
        return value


def locate(header: Sequence[str], names: Sequence[str], optional: Collection[str] = ()) -> Picker:
    """A function giving a line's cells of the columns `names`, in that order, wherever they are
    in `header`; a column in `optional` may be absent and then reads as an empty cell."""
    at = {name: index for index, name in reversed(list(enumerate(header)))}  # the first of duplicates
    for name in names:
        if name not in at and name not in optional:
            raise FileRejected("missing column", line=1, column=name)
    width = len(header)
    get = itemgetter(*(at.get(name, width) for name in names))
    if all(name in at for name in names):
        return get
    padding = [""]
    return lambda cells: get(cells + padding)


def currency_of(text: str) -> tuple[str, int]:
    """The ISO 4217 code in upper case and its exponent (USD 2, JPY 0, KWD 3)."""
    code = text.upper()
    exponent = CURRENCY_EXPONENTS.get(code)
    if exponent is None:
        raise CellError(f"unknown currency {text!r}: expected an ISO 4217 code such as USD")
    return code, exponent


def minor_units(text: str, exponent: int) -> int:
    """A signed major-unit amount ("-12.34") in minor units (-1234), exactly. Digits beyond
    the currency's exponent must be zeros: the value is kept, never rounded."""
    whole, dot, fraction = text.partition(".")
    # isdigit() alone accepts non-ASCII digits ("١", "²") and int() also takes "1_000" and spaces.
    if len(fraction) == exponent and whole.isdigit() and fraction.isdigit() and text.isascii():
        return int(whole + fraction)  # the usual spelling: "12.34" in USD
    negative = whole[:1] == "-"
    if negative:
        whole = whole[1:]
    if not (text.isascii() and whole.isdigit() and (fraction.isdigit() or not dot)):
        raise CellError(f"not a decimal amount: {text!r}")
    excess = len(fraction) - exponent
    if excess > 0:
        if fraction[exponent:].strip("0"):
            raise CellError(f"{text!r} has more than {exponent} decimals, the precision of the currency")
        fraction = fraction[:exponent]
    elif excess < 0:
        fraction += "0" * -excess
    value = int(whole + fraction)
    return -value if negative else value


def minor_units_unsigned(text: str, exponent: int) -> int:
    """A non-negative amount; an empty cell is 0 (debit and credit columns leave one empty)."""
    whole, _, fraction = text.partition(".")
    if len(fraction) == exponent and whole.isdigit() and fraction.isdigit() and text.isascii():
        return int(whole + fraction)  # the usual spelling, as in minor_units: a call saved per cell
    if not text:
        return 0
    if text[0] == "-":
        raise CellError(f"negative amount {text!r}: debit and credit are separate columns")
    return minor_units(text, exponent)


def utc(text: str, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    """"YYYY-MM-DD HH:MM:SS" (or ISO 8601 with T, Z or an offset) in `zone` when it names no
    offset of its own, as an aware UTC datetime."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CellError(f"not a date and time: {text!r} (expected YYYY-MM-DD HH:MM:SS)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
        if zone is dt.UTC:
            return moment
    return moment.astimezone(dt.UTC)


def zone_of(name: str) -> dt.tzinfo:
    """UTC, GMT, a fixed offset ("+01:00"), an abbreviation ("PDT") or an IANA name ("Europe/Amsterdam", "CET")."""
    if name in UTC_NAMES:
        return dt.UTC
    if name in ABBREVIATION_HOURS:
        return dt.timezone(dt.timedelta(hours=ABBREVIATION_HOURS[name]), name)
    if name[:1] in ("+", "-"):
        try:
            return dt.datetime.fromisoformat(f"2000-01-01T00:00:00{name}").tzinfo or dt.UTC
        except ValueError:
            raise CellError(f"not a UTC offset: {name!r} (expected +HH:MM)") from None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CellError(f"unknown time zone {name!r}: expected UTC, an offset or an IANA name") from None


def currency_in(text: str, *, signed: bool) -> tuple[str, int, Memo[int]]:
    """A currency's code, exponent and a memo of its fees in minor units (signed or not)."""
    code, exponent = currency_of(text)
    return code, exponent, Memo(partial(minor_units if signed else minor_units_unsigned, exponent=exponent),
                                FEES_CACHED_MAX)


def timestamps_in(zone_text: str) -> Memo[dt.datetime]:
    """The timestamps of a zone named in a file, as UTC datetimes."""
    return Memo(partial(utc, zone=zone_of(zone_text)), TIMESTAMPS_CACHED_MAX)
