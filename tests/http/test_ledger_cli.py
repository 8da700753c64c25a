"""`basketpay ledger …` against the test database: check, balance, entries, statement."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from basketpay.ledger import chart
from tests.conftest import TEST_KEK
from tests.helpers import authorized, post


def cli(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BASKETPAY_DATABASE_URL": database_url, "BASKETPAY_DATA_DIR": str(data_dir),
           "BASKETPAY_VAULT_KEY_ENCRYPTION_KEY": TEST_KEK, "BASKETPAY_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "basketpay.cli.main", "ledger", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_ledger_commands_read_the_books(
    client: httpx.Client, merchant: tuple[str, str], database_url: str, data_dir: Path
) -> None:
    intent = authorized(client, 2500)
    assert post(client, f"/v1/payment_intents/{intent['id']}/capture", {}).status_code == 200
    clearing = chart.account_id(merchant[0], chart.processor_clearing("sandbox"), "USD")

    checked = cli(database_url, data_dir, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok   balances_equal_their_postings" in checked.stdout

    balance = cli(database_url, data_dir, "balance", clearing, "--merchant", merchant[0])
    assert json.loads(balance.stdout)["posted"] == 2500, balance.stderr

    listed = cli(database_url, data_dir, "entries", "--merchant", merchant[0], "--object-id", intent["id"])
    assert [json.loads(line)["kind"] for line in listed.stdout.splitlines()] == ["payment.capture",
                                                                                  "payment.authorization"]
    statement = cli(database_url, data_dir, "statement", clearing, "--merchant", merchant[0],
                    "--start", "2000-01-01", "--end", "2100-01-01")
    rows = list(csv.DictReader(io.StringIO(statement.stdout)))
    assert rows[-1]["posted_balance"] == "25.00", statement.stderr


def test_ledger_check_fails_loudly_on_broken_books(database_url: str, data_dir: Path, engine: object) -> None:
    from sqlalchemy import Engine, text

    assert isinstance(engine, Engine)
    with engine.begin() as connection:  # a balance row that disagrees with its postings
        account = connection.execute(text("SELECT account_id FROM ledger_balances LIMIT 1")).scalar_one()
        connection.execute(text("UPDATE ledger_balances SET posted = posted + 1 WHERE account_id = :a AND bucket = 0"),
                           {"a": account})
    try:
        broken = cli(database_url, data_dir, "check")
        assert broken.returncode == 1
        assert "FAIL balances_equal_their_postings" in broken.stdout
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE ledger_balances SET posted = posted - 1 WHERE account_id = :a "
                                    "AND bucket = 0"), {"a": account})
