"""Parsing a large settlement file in two processes at once, for the import's COPY.

Parsing is the import's bottleneck (Python, one core) while PostgreSQL's side of COPY
keeps the other core only partly busy; two parsers on two halves of the file bring a
million-line import from about 20 s to about 11 s on the two-core machine (README).

A file is split at the line break nearest its middle, which is only a line boundary if
no quoted cell spans lines: a file holding any `"` is parsed whole, in one process, as is
a small file. Each half is parsed as a file of its own (the header, then its lines), its
line numbers shifted back to the file's, into COPY text sent over a pipe. The halves'
checks that span lines (a Stripe payout in one currency) are made again across them: a
conflict sends the file back to the one-process path, which names the exact line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from basketpay.reconciliation.copy_text import copy_line
from basketpay.reconciliation.fee_models import FeeModels
from basketpay.reconciliation.formats.detect import read
from basketpay.reconciliation.formats.rows import FileRejected
from basketpay.reconciliation.tally import FileTally

__all__ = ["Half", "SplitConflict", "Survey", "halves", "parse_half", "survey"]

SPLIT_MIN_BYTES = 16 << 20
_CHUNK_LINES = 5000


@dataclass(frozen=True, slots=True)
class Half:
    start: int  # byte offset of its first line
    end: int  # byte offset after its last line
    line_offset: int  # added to a line number the half's parser reports (its header counts as line 1)


class SplitConflict(Exception):
    """The halves disagree on something only the whole file can judge: parse it whole."""


@dataclass(frozen=True, slots=True)
class Survey:
    sha256: str  # of the file's bytes: it names the file (a file imported twice changes nothing)
    halves: tuple[str, list[Half]] | None  # (header line, the two halves), or None: parse it whole


def survey(path: Path) -> Survey:
    """One streamed pass over the file, in 1 MiB blocks: its digest, and where it may be split
    (the header's end, the line break at or after the middle, the lines before it)."""
    size = path.stat().st_size
    digest, quoted = hashlib.sha256(), False
    target, header_end, middle, lines, offset = size // 2, -1, -1, 0, 0
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
            quoted = quoted or b'"' in block
            if header_end < 0 and (found := block.find(b"\n")) >= 0:
                header_end = offset + found + 1
            if middle < 0:
                start = max(0, target - offset)
                found = block.find(b"\n", start) if start < len(block) else -1
                lines += block.count(b"\n", 0, found + 1) if found >= 0 else block.count(b"\n")
                middle = offset + found + 1 if found >= 0 else -1
            offset += len(block)
    whole = quoted or size < SPLIT_MIN_BYTES or header_end <= 0 or middle <= header_end or middle >= size
    return Survey(digest.hexdigest(), None if whole else _halves(path, size, header_end, middle, lines))


def _halves(path: Path, size: int, header_end: int, middle: int, lines_before: int) -> tuple[str, list[Half]]:
    with path.open("rb") as file:
        header = file.read(header_end).decode("utf-8-sig")
    return header, [Half(header_end, middle, 0), Half(middle, size, lines_before - 1)]


def halves(path: Path) -> tuple[str, list[Half]] | None:
    """(header line, the two halves), or None when the file must be parsed whole."""
    return survey(path).halves


def _lines(path: Path, header: str, half: Half) -> Iterator[str]:
    yield header
    with path.open("rb") as file:
        file.seek(half.start)
        remaining = half.end - half.start
        for raw in file:
            remaining -= len(raw)
            yield raw.decode("utf-8")
            if remaining <= 0:
                return


def parse_half(path: Path, header: str, half: Half, prefix: tuple[str, str, str], fees: FeeModels,
               pipe: Connection) -> None:
    """In a child process: send ("chunk", text)…, then ("done", tally, payouts) or ("rejected", …)."""
    try:
        parser, rows = read(_lines(path, header, half))
        tally, chunk, shift = FileTally(), [], half.line_offset
        for row in rows:
            chunk.append(copy_line(prefix[0], row, fees.expected(prefix[2], row), shift))
            tally.add(row)
            if len(chunk) >= _CHUNK_LINES:
                pipe.send(("chunk", "".join(chunk)))
                chunk = []
        pipe.send(("chunk", "".join(chunk)))
        pipe.send(("done", tally, dict(getattr(parser, "_payout_currency", {}))))
    except FileRejected as error:
        line = None if error.line is None else error.line + shift
        pipe.send(("rejected", error.reason, line, error.column))
    except UnicodeDecodeError as error:
        pipe.send(("rejected", f"the file is not UTF-8 text ({error.reason})", None, None))
    finally:
        pipe.close()
