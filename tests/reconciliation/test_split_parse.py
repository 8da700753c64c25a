"""A large file is parsed in two processes: the rows imported are exactly those of the
one-process path, a bad line in the second half is named by its line in the file, and a
check only the whole file can make (one currency per payout) sends it back to one process,
which names the exact line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from basketpay.merchants.service import create_merchant
from basketpay.reconciliation import split_parse
from basketpay.reconciliation.formats.rows import FileRejected
from basketpay.sandboxes.stripe_api.settlement import ITEMIZED_COLUMNS
from basketpay.settings import Settings
from tests.reconciliation.sandbox_day import in_process
from tests.reconciliation.test_settlement_files import csv_text

LINES = 2_000


def _line(index: int, currency: str = "usd", gross: str = "10.00") -> list[str]:
    payout = f"po_{index // 500}"
    return [payout, "2026-11-02 00:00:00", f"txn_{index}", "2026-11-01 10:00:00", "2026-11-01 10:00:00", currency,
            gross, "0.59", f"{float(gross) - 0.59:.2f}" if gross[0].isdigit() else "9.41", "charge", f"ch_{index}", "",
            f"ch_{index}", f"pi_{index}", "", "visa", "credit", "US"]


def _file(tmp_path: Path, name: str, lines: list[list[str]]) -> Path:
    path = tmp_path / name
    path.write_bytes(csv_text(ITEMIZED_COLUMNS, lines))
    return path


def _merchant(engine: Engine) -> str:
    with engine.begin() as connection:
        return create_merchant(connection, "split").merchant_id


def _rows(engine: Engine, merchant_id: str) -> list[Any]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT line, kind, row_reference, payment_reference, currency, gross, fee, net, expected_fee, batch, "
            "booked_at FROM settlement_rows JOIN settlement_files f ON f.seq = file_seq WHERE f.merchant_id = :m "
            "ORDER BY line"), {"m": merchant_id})]


def _import(settings: Settings, merchant_id: str, path: Path) -> Any:
    return in_process(settings, lambda s: s.import_files(merchant_id, [path], "cli"))


def test_two_processes_import_what_one_does(tmp_path: Path, engine: Engine, settings: Settings,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(tmp_path, "big.csv", [_line(index) for index in range(LINES)])
    whole, split = _merchant(engine), _merchant(engine)
    _import(settings, whole, path)
    monkeypatch.setattr(split_parse, "SPLIT_MIN_BYTES", 1_000)
    assert split_parse.halves(path) is not None
    imported = _import(settings, split, path)
    assert imported[0].rows == LINES
    assert _rows(engine, split) == _rows(engine, whole) and len(_rows(engine, split)) == LINES
    with engine.connect() as connection:
        batches = connection.execute(text("SELECT merchant_id, batches FROM settlement_files "
                                          "WHERE merchant_id IN (:a, :b)"), {"a": whole, "b": split}).all()
    assert batches[0].batches == batches[1].batches


def test_a_bad_line_in_the_second_half_is_named(tmp_path: Path, engine: Engine, settings: Settings,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(split_parse, "SPLIT_MIN_BYTES", 1_000)
    lines = [_line(index) for index in range(LINES)]
    lines[1_700][6] = "ten dollars"  # file line 1702: the header is line 1
    merchant_id = _merchant(engine)
    with pytest.raises(FileRejected) as rejected:
        _import(settings, merchant_id, _file(tmp_path, "bad.csv", lines))
    assert (rejected.value.line, rejected.value.column) == (1_702, "gross")
    assert _rows(engine, merchant_id) == []


def test_a_payout_in_two_currencies_across_the_halves(tmp_path: Path, engine: Engine, settings: Settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each half is in one currency, so only the merge sees it; the whole-file parse names the line."""
    monkeypatch.setattr(split_parse, "SPLIT_MIN_BYTES", 1_000)
    lines = [_line(index) for index in range(LINES)]
    for line in lines:
        line[0] = "po_one"
    path = _file(tmp_path, "mixed.csv", lines)
    found = split_parse.halves(path)
    assert found is not None
    second = found[1][1].line_offset  # the second half's first data line, counted from 0 among data lines
    for line in lines[second:]:
        line[5] = "eur"  # as long as "usd": the halves stay where they were
    merchant_id = _merchant(engine)
    with pytest.raises(FileRejected) as rejected:
        _import(settings, merchant_id, _file(tmp_path, "mixed.csv", lines))
    assert (rejected.value.line, rejected.value.column) == (second + 2, "currency")
    assert _rows(engine, merchant_id) == []
