"""One settlement row as a line of PostgreSQL COPY text (tab-separated, `\\N` for NULL).

Written by hand rather than through `Copy.write_row` because a million-row file spends
most of its import here: one f-string per row is about three times faster. The line is
built as is, then checked once: only a line holding a character COPY treats specially (a
tab, a line break or a backslash inside a value) is built again with its values escaped.
"""

from __future__ import annotations

from basketpay.reconciliation.formats.rows import SettlementRow

__all__ = ["copy_line"]

_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _escaped(value: str | None) -> str:
    return _NULL if value is None else value.translate(_SPECIAL)


def copy_line(file_seq: str, row: SettlementRow, expected: tuple[int, int] | None, shift: int = 0) -> str:
    """`file_seq` (the file's sequence number) starts the line; `expected` is the fee model's
    (fee, part due on a first charge only), or None; `shift` is added to the line number (a
    half of a file parsed on its own: split_parse.py)."""
    expected_fee, first_only = (_NULL, 0) if expected is None else expected
    ref, payment, attempt, batch = row.row_reference, row.payment_reference, row.attempt_reference, row.batch
    joined = f"{ref}{payment}{attempt}{batch}"
    if "\t" in joined or "\n" in joined or "\r" in joined or "\\" in joined:
        ref, payment, attempt, batch = _escaped(ref), _escaped(payment), _escaped(attempt), _escaped(batch)
    else:
        ref = _NULL if ref is None else ref
        payment = _NULL if payment is None else payment
        attempt = _NULL if attempt is None else attempt
    return (f"{file_seq}\t{row.line + shift}\t{row.kind}\t{ref}\t{payment}\t{attempt}\t"
            f"{row.currency}\t{row.gross}\t{row.fee}\t{row.net}\t{expected_fee}\t{first_only}\t{batch}\t"
            f"{row.booked_at.isoformat()}\n")
