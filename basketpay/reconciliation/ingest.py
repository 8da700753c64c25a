"""Importing a settlement file: all of it or nothing, once.

The file's SHA-256 names it (taken in the same pass that finds where a large file may be
split for two parsing processes: split_parse.py): a file imported before (by any route: CLI, API, the daily
pull) is answered with the earlier import and changes nothing. Otherwise its lines are
parsed as they stream in and COPYed into `settlement_rows` inside one transaction; the
first bad line raises `FileRejected` (line and column) and the transaction rolls back.
Memory stays flat whatever the file's size: one chunk of COPY text at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import DataError, UniqueViolation
from psycopg.types.json import Jsonb

from basketpay.db.database import Database
from basketpay.ids import new_id
from basketpay.reconciliation.copy_text import copy_line
from basketpay.reconciliation.fee_models import FeeModels
from basketpay.reconciliation.formats.detect import read
from basketpay.reconciliation.formats.rows import FileRejected, SettlementRow
from basketpay.reconciliation.split_copy import write_split
from basketpay.reconciliation.split_parse import Half, SplitConflict, survey
from basketpay.reconciliation.tally import FileTally

__all__ = ["Imported", "import_file"]

ROW_COLUMNS = ("file_seq", "line", "kind", "row_reference", "payment_reference",
               "attempt_reference", "currency", "gross", "fee", "net", "expected_fee", "first_charge_fee", "batch",
               "booked_at")
_COPY = f"COPY settlement_rows ({', '.join(ROW_COLUMNS)}) FROM STDIN"
_CHUNK_LINES = 5000
_EXISTING = """SELECT id, processor, format, name, rows FROM settlement_files
WHERE merchant_id = %(merchant_id)s AND sha256 = %(sha256)s"""
_INSERT_FILE = """INSERT INTO settlement_files (id, merchant_id, processor, format, name, sha256, rows, source)
VALUES (%(id)s, %(merchant_id)s, %(processor)s, %(format)s, %(name)s, %(sha256)s, 0, %(source)s) RETURNING seq"""
_FINISH_FILE = """UPDATE settlement_files SET processor = %s, format = %s, rows = %s, first_booked_at = %s,
last_booked_at = %s, batches = %s WHERE id = %s"""


@dataclass(frozen=True, slots=True)
class Imported:
    file_id: str
    processor: str
    format: str
    name: str
    rows: int
    already_imported: bool


def _text_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        try:
            yield from file
        except UnicodeDecodeError as error:
            raise FileRejected(f"the file is not UTF-8 text ({error.reason} at byte {error.start})") from None


async def _existing(connection: AsyncConnection[Any], merchant_id: str, sha256: str) -> Imported | None:
    row = await (await connection.execute(_EXISTING, {"merchant_id": merchant_id, "sha256": sha256})).fetchone()
    return None if row is None else Imported(row.id, row.processor, row.format, row.name, row.rows, True)


def _copy_chunks(rows: Iterable[SettlementRow], prefix: tuple[str, str, str], fees: FeeModels,
                 tally: FileTally) -> Iterator[str]:
    """COPY text in chunks; `tally` counts the lines on the way."""
    chunk: list[str] = []
    processor = prefix[2]
    for row in rows:
        chunk.append(copy_line(prefix[0], row, fees.expected(processor, row)))
        tally.add(row)
        if len(chunk) >= _CHUNK_LINES:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)


async def _write_rows(connection: AsyncConnection[Any], file_seq: str, merchant_id: str, path: Path,
                      fees: FeeModels, parts: tuple[str, list[Half]] | None) -> tuple[str, str, FileTally]:
    parser, rows = read(_text_lines(path))
    if parts is not None:
        header, pieces = parts
        async with connection.cursor().copy(_COPY) as copy:
            tally = await write_split(copy, path, header, pieces, (file_seq, merchant_id, parser.processor), fees)
        return parser.processor, parser.format, tally
    tally = FileTally()
    async with connection.cursor().copy(_COPY) as copy:
        for text in _copy_chunks(rows, (file_seq, merchant_id, parser.processor), fees, tally):
            if text:
                await copy.write(text)
    return parser.processor, parser.format, tally


async def import_file(db: Database, merchant_id: str, path: Path, *, source: str, name: str | None = None,
                      fees: FeeModels | None = None) -> Imported:
    """Import `path` for `merchant_id`; raises FileRejected (nothing written) for a bad file."""
    found_file, name = survey(path), name or path.name
    sha256 = found_file.sha256
    async with db.connection() as connection:
        if (found := await _existing(connection, merchant_id, sha256)) is not None:
            return found
    try:
        return await _import(db, merchant_id, path, source, name, sha256, fees or FeeModels(), found_file.halves)
    except SplitConflict:  # only the whole file can say which line: parse it whole
        return await _import(db, merchant_id, path, source, name, sha256, fees or FeeModels(), None)


async def _import(db: Database, merchant_id: str, path: Path, source: str, name: str, sha256: str,
                  fees: FeeModels, parts: tuple[str, list[Half]] | None) -> Imported:
    file_id = new_id("sf")
    try:
        async with db.transaction() as connection:
            head = {"id": file_id, "merchant_id": merchant_id, "name": name, "sha256": sha256, "source": source,
                    "processor": "", "format": ""}
            inserted = await (await connection.execute(_INSERT_FILE, head)).fetchone()
            assert inserted is not None
            processor, format_, tally = await _write_rows(connection, str(inserted.seq), merchant_id, path, fees, parts)
            await connection.execute(_FINISH_FILE, (processor, format_, tally.rows, tally.first, tally.last,
                                                    Jsonb(tally.batches_json()), file_id))
    except DataError as error:  # a value PostgreSQL cannot store (a NUL byte): the file, not the service, is wrong
        raise FileRejected(f"the file holds a value that cannot be stored: {error.diag.message_primary}") from None
    except UniqueViolation:  # the same file, imported at the same moment by another route
        async with db.connection() as connection:
            found = await _existing(connection, merchant_id, sha256)
        assert found is not None
        return found
    return Imported(file_id, processor, format_, name, tally.rows, False)
