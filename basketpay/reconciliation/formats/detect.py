"""Which settlement format a file is, from its header line, and the file read as a stream
of `SettlementRow`s by that format's parser.

`read` holds one line at a time: the importer can stream a million-line file straight
into COPY. It reads the header eagerly (so a file of an unknown format or with a missing
column is rejected before anything is written) and every later line lazily.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING

from basketpay.reconciliation.formats.adyen import AdyenSettlementDetails
from basketpay.reconciliation.formats.rows import FileRejected, Parser, SettlementRow
from basketpay.reconciliation.formats.stripe import StripeItemized, StripePayouts

if TYPE_CHECKING:
    from _csv import Reader  # csv.reader's type: typeshed only, not importable on Python 3.11

__all__ = ["parser_for", "read"]

UNKNOWN_FORMAT = ("not a settlement file basketpay knows: expected a Stripe itemized payout reconciliation report, "
                  "a Stripe payouts report or an Adyen settlement details report")
BYTE_ORDER_MARK = "\ufeff"


def parser_for(header: list[str]) -> Parser:
    """The parser for the format whose columns `header` has; it rejects a missing column."""
    names = set(header)
    if "balance_transaction_id" in names or "reporting_category" in names:
        return StripeItemized(header)
    if "automatic_payout_id" in names:
        return StripePayouts(header)
    if "Psp Reference" in names or "Batch Number" in names:
        return AdyenSettlementDetails(header)
    raise FileRejected(UNKNOWN_FORMAT, line=1)


def read(text_lines: Iterable[str]) -> tuple[Parser, Iterator[SettlementRow]]:
    """The file's parser and its rows, read as they are iterated. `text_lines` are the file's
    lines as text (a file opened with newline="" keeps line breaks inside quoted cells)."""
    lines = iter(text_lines)
    first = next(lines, "").removeprefix(BYTE_ORDER_MARK)
    reader = csv.reader(chain((first,), lines), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as error:
        raise FileRejected(f"not CSV: {error}", line=1) from None
    if not any(header):
        raise FileRejected(f"no header line: {UNKNOWN_FORMAT}", line=1)
    parser = parser_for(header)
    return parser, parser.rows(_records(reader, header))


def _records(reader: Reader, header: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each data line; a line starts after the last one ended, as a
    quoted cell may span lines. Empty lines (and lines of empty cells) are skipped."""
    width, ended = len(header), reader.line_num
    try:
        for cells in reader:
            line, ended = ended + 1, reader.line_num
            if len(cells) != width or not cells[0]:
                if not any(cells):
                    continue
                if len(cells) != width:
                    column = header[len(cells)] if len(cells) < width else None
                    raise FileRejected(f"{len(cells)} cells where the header has {width}", line=line, column=column)
            yield line, cells
    except csv.Error as error:
        raise FileRejected(f"not CSV: {error}", line=ended + 1) from None
