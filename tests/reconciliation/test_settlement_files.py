"""Settlement files through the API and the CLI, against a merchant's books: bad files are
rejected whole with the line and column named; files with several batches, currencies,
payout lines, fees on refunds and `<auto>` references import; every line nobody booked
is a break; a payout that pays other than its lines is a break; breaks are resolved once,
with their ledger entry and an audit entry."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

from basketpay.sandboxes.adyen_api.settlement import COLUMNS as ADYEN_COLUMNS
from basketpay.sandboxes.stripe_api.settlement import ITEMIZED_COLUMNS, PAYOUT_COLUMNS

STRIPE_LINE = ["po_1", "2026-11-02 00:00:00", "txn_1", "2026-11-01 10:00:00", "2026-11-01 10:00:00", "usd", "100.00",
               "3.20", "96.80", "charge", "ch_1", "", "ch_1", "pi_unknown1", "", "visa", "credit", "US"]


def csv_text(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def upload(client: httpx.Client, body: bytes, name: str = "file.csv") -> httpx.Response:
    return client.post("/v1/reconciliation/files", params={"name": name}, content=body,
                       headers={"Content-Type": "text/csv"})


def adyen_row(kind: str, batch: str, currency: str, **cells: str) -> list[str]:
    row = dict.fromkeys(ADYEN_COLUMNS, "")
    row.update({"Company Account": "Co", "Merchant Account": "ShopUS", "Creation Date": "2026-11-01 12:00:00",
                "TimeZone": "UTC", "Type": kind, "Net Currency": currency, "Batch Number": batch,
                "Booking Date": "2026-11-01 12:00:00", "Booking Date TimeZone": "UTC"})
    row.update({name.replace("_", " "): value for name, value in cells.items()})
    return [row[column] for column in ADYEN_COLUMNS]


def _adyen_two_batches() -> bytes:
    settled = {"Psp Reference": "PSPA", "Merchant Reference": "order-1", "Modification Reference": "MODA",
               "Gross Currency": "USD", "Gross Credit (GC)": "50.00", "Exchange Rate": "1", "Net Credit (NC)": "48.88",
               "Commission (NC)": "0.12", "Markup (NC)": "0.30", "Scheme Fees (NC)": "0.07", "Interchange (NC)": "0.63",
               "Payment Method": "visa", "Payment Method Variant": "visacredit",
               "Modification Merchant Reference": "<auto>"}
    refunded = {"Psp Reference": "PSPA", "Modification Reference": "MODR", "Gross Currency": "USD",
                "Gross Debit (GC)": "10.00", "Exchange Rate": "1", "Net Debit (NC)": "10.12", "Commission (NC)": "0.12"}
    euro = {"Psp Reference": "PSPE", "Modification Reference": "MODE", "Gross Currency": "EUR",
            "Gross Credit (GC)": "20.00", "Exchange Rate": "1", "Net Credit (NC)": "20.00"}
    fee = {"Psp Reference": "PSPA", "Modification Reference": "MODF", "Net Debit (NC)": "0.02",
           "Commission (NC)": "0.02"}
    rows = [adyen_row("Settled", "7", "USD", **_cells(settled)), adyen_row("Refunded", "7", "USD", **_cells(refunded)),
            adyen_row("Fee", "7", "USD", **_cells(fee)),
            adyen_row("MerchantPayout", "7", "USD", **_cells({"Net Debit (NC)": "38.74"})),
            adyen_row("Settled", "8", "EUR", **_cells(euro)),
            adyen_row("MerchantPayout", "8", "EUR", **_cells({"Net Debit (NC)": "20.00"}))]
    return csv_text(ADYEN_COLUMNS, rows)


def _cells(values: dict[str, str]) -> dict[str, str]:
    return {name.replace(" ", "_"): value for name, value in values.items()}


def _files(engine: Engine, merchant_id: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM settlement_files WHERE merchant_id = :m"),
                                      {"m": merchant_id}).scalar_one())


def test_a_bad_file_is_rejected_whole_naming_line_and_column(client: httpx.Client, engine: Engine,
                                                             merchant: tuple[str, str]) -> None:
    good = STRIPE_LINE
    bad_amount = [*STRIPE_LINE[:6], "1O0.00", *STRIPE_LINE[7:]]
    rejected = upload(client, csv_text(ITEMIZED_COLUMNS, [good, bad_amount]))
    assert rejected.status_code == 400, rejected.text
    error = rejected.json()["error"]
    assert (error["code"], error["line"], error["param"]) == ("settlement_file_rejected", 3, "gross")
    missing = upload(client, csv_text([c for c in ITEMIZED_COLUMNS if c != "net"], [good[:8] + good[9:]]))
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "net"
    assert missing.json()["error"]["line"] == 1
    mixed = [*STRIPE_LINE[:2], "txn_2", *STRIPE_LINE[3:5], "eur", *STRIPE_LINE[6:]]
    rejected_mixed = upload(client, csv_text(ITEMIZED_COLUMNS, [good, mixed]))
    assert rejected_mixed.status_code == 400 and rejected_mixed.json()["error"]["line"] == 3
    assert rejected_mixed.json()["error"]["param"] == "currency"
    assert _files(engine, merchant[0]) == 0


def test_batches_currencies_and_payouts_import_and_unknown_lines_are_breaks(
        client: httpx.Client, engine: Engine, merchant: tuple[str, str]) -> None:
    answer = upload(client, _adyen_two_batches(), "adyen.csv")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["processor"], body["rows"], body["already_imported"]) == ("adyen", 6, False)
    summary = body["runs"][0]
    assert (summary["lines"], summary["matched"]) == (4, 0)
    assert {(b["category"], b["currency"], b["count"]) for b in summary["breaks"]} == {
        ("missing_in_books", "USD", 3), ("missing_in_books", "EUR", 1)}
    assert {(b["batch"], b["paid"], b["unexplained"]) for b in summary["batches"]} == {
        ("ShopUS:7:USD", 3874, 0), ("ShopUS:8:EUR", 2000, 0)}
    again = upload(client, _adyen_two_batches(), "adyen-again.csv").json()
    assert again["already_imported"] and again["runs"] == [] and again["id"] == body["id"]
    assert _files(engine, merchant[0]) == 1


def test_a_payout_that_pays_other_than_its_lines(client: httpx.Client) -> None:
    upload(client, csv_text(ITEMIZED_COLUMNS, [STRIPE_LINE]), "itemized.csv")
    payouts = upload(client, csv_text(PAYOUT_COLUMNS, [["po_1", "2026-11-02 00:00:00", "usd", "96.00", "0.00",
                                                        "96.00", "1"]]), "payouts.csv").json()
    categories = {(b["category"], b["difference"]) for b in payouts["runs"][0]["breaks"]}
    assert ("payout_total_mismatch", -80) in categories


def _break(client: httpx.Client, category: str) -> dict[str, Any]:
    found = client.get("/v1/reconciliation/breaks", params={"category": category}).json()["data"]
    assert found, category
    return found[0]  # type: ignore[no-any-return]


def test_resolving_breaks(client: httpx.Client, server: Any, engine: Engine, merchant: tuple[str, str]) -> None:
    upload(client, csv_text(ITEMIZED_COLUMNS, [STRIPE_LINE]), "one.csv")
    missing = _break(client, "missing_in_books")
    assert client.post(f"/v1/reconciliation/breaks/{missing['id']}/resolve", json={"action": "ignore"}).status_code == 400
    accepted = client.post(f"/v1/reconciliation/breaks/{missing['id']}/resolve", json={"action": "accept"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "resolved" and accepted.json()["ledger_entry_id"].startswith("le_")
    again = client.post(f"/v1/reconciliation/breaks/{missing['id']}/resolve", json={"action": "write_off"})
    assert again.status_code == 409
    with httpx.Client(base_url=server.base_url, timeout=30) as other:
        other_key = _other_merchant_key(engine)
        denied = other.post(f"/v1/reconciliation/breaks/{missing['id']}/resolve", json={"action": "accept"},
                            headers={"Authorization": f"Bearer {other_key}"})
    assert denied.status_code == 404
    with engine.connect() as connection:
        entry = connection.execute(text("SELECT kind FROM ledger_entries WHERE id = :id"),
                                   {"id": accepted.json()["ledger_entry_id"]}).scalar_one()
        audit = connection.execute(text("SELECT count(*) FROM audit_log WHERE object_id = :id AND "
                                        "action = 'reconciliation.break.resolve'"), {"id": missing["id"]}).scalar_one()
    assert (entry, audit) == ("reconciliation.accept", 1)


def _other_merchant_key(engine: Engine) -> str:
    from basketpay.merchants.service import create_merchant

    with engine.begin() as connection:
        return create_merchant(connection, "someone-else").secret_key


def test_the_cli_reconciles_and_writes_reports(tmp_path: Path, database_url: str, merchant: tuple[str, str],
                                               data_dir: Path) -> None:
    path = tmp_path / "itemized.csv"
    path.write_bytes(csv_text(ITEMIZED_COLUMNS, [STRIPE_LINE]))
    env = {**os.environ, "BASKETPAY_DATABASE_URL": database_url, "BASKETPAY_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "basketpay.cli.main", "reconcile", str(path), "--merchant", merchant[0]]
    html = subprocess.run([*command, "--format", "html", "--out", str(tmp_path / "r.html")], env=env,
                          capture_output=True, text=True, check=True)
    assert "wrote" in html.stdout
    page = (tmp_path / "r.html").read_text()
    assert "missing in books" in page and "<table>" in page
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "nothing new to reconcile" in again.stdout
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_text(ITEMIZED_COLUMNS, [[*STRIPE_LINE[:6], "x", *STRIPE_LINE[7:]]]))
    rejected = subprocess.run([*command[:4], str(bad), "--merchant", merchant[0]], env=env, capture_output=True,
                              text=True)
    assert rejected.returncode == 1 and "line 2" in rejected.stderr and "gross" in rejected.stderr


def test_a_runs_report_as_json_csv_and_html(client: httpx.Client) -> None:
    run = upload(client, csv_text(ITEMIZED_COLUMNS, [STRIPE_LINE]), "report.csv").json()["runs"][0]
    path = f"/v1/reconciliation/runs/{run['run_id']}"
    assert client.get(path).json()["lines"] == 1
    as_csv = client.get(path, params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert ["missing in books", "open", "USD", "1", "100.00", "96.80"] in rows
    assert any(row[0].startswith("rb_") and row[1] == "missing in books" for row in rows if len(row) > 2)
    page = client.get(path, params={"format": "html"}).text
    assert "Every cent of every batch is matched or named by a break." in page
    assert client.get("/v1/reconciliation/runs").json()["data"][0]["run_id"] == run["run_id"]
    assert client.get("/v1/reconciliation/runs/rr_nope").status_code == 404
