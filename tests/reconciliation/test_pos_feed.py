"""Retailer point-of-sale feeds end to end: real orders through the API, delivered, then a
store's feed of purchases imported (API and CLI) and matched to their card authorizations."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from basketpay.merchants.service import create_merchant
from basketpay.server import ServerProcess
from tests.conftest import TEST_KEK, server_env
from tests.helpers import post
from tests.orders_helpers import card_tender, create_order, event, order_server, wait_for

HEADER = "store,timestamp,card_last4,total,tax\n"
CARDS = {"exact": "4242424242424242", "weighed": "5555555555554444", "total": "6011111111111117",
         "tax": "5200828282828210", "absent": "3566002020360505"}


@pytest.fixture(scope="module")
def pos_server(database_url: str, data_dir: Path) -> Iterator[tuple[ServerProcess, str]]:
    with order_server(database_url, server_env(data_dir), data_dir / "pos-server.log") as running:
        yield running


@pytest.fixture()
def shop(pos_server: tuple[ServerProcess, str], merchant: tuple[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {merchant[1]}"}
    with httpx.Client(base_url=pos_server[0].base_url, headers=headers, timeout=30.0) as http:
        post(http, "/v1/order_policy", {"tip_change_window_seconds": 0}, key=None)
        yield http


def _delivered_order(shop: httpx.Client, number: str, *events: dict[str, Any]) -> dict[str, Any]:
    created = create_order(shop, [card_tender(shop, number)], tip=200)
    assert created.status_code == 200, created.text
    order = created.json()
    for item in events:
        assert event(shop, order["id"], **item).status_code == 200
    assert shop.post(f"/v1/orders/{order['id']}/deliver").status_code == 200
    return wait_for(shop, order["id"], "completed")


def _authorized_at(shop: httpx.Client, order: dict[str, Any]) -> dt.datetime:
    intent = shop.get(f"/v1/payment_intents/{order['tenders'][0]['authorizations'][0]['id']}").json()
    return dt.datetime.fromtimestamp(intent["created"], dt.UTC)


def _till(order: dict[str, Any]) -> tuple[int, int]:
    """What the store charged: the delivered lines with their tax and deposits (no fee, no tip)."""
    tax = sum(line["tax"] for line in order["lines"])
    return sum(line["amount"] + line["deposit"] for line in order["lines"]) + tax, tax


def _major(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d}"


def _line(when: dt.datetime, last4: str, total: int, tax: int) -> str:
    return f"store_7,{when.isoformat()},{last4},{_major(total)},{_major(tax)}\n"


def _import(client: httpx.Client, body: str | bytes, name: str = "store_7.csv") -> httpx.Response:
    return client.post("/v1/reconciliation/pos_feeds", params={"name": name}, content=body,
                       headers={"Content-Type": "text/csv"})


def _counts(engine: Engine, merchant_id: str) -> tuple[int, int]:
    with engine.connect() as connection:
        feeds = connection.execute(text("SELECT count(*) FROM pos_feeds WHERE merchant_id = :m"),
                                   {"m": merchant_id}).scalar_one()
        lines = connection.execute(text("SELECT count(*) FROM pos_transactions WHERE merchant_id = :m"),
                                   {"m": merchant_id}).scalar_one()
    return feeds, lines


def _feed(shop: httpx.Client) -> tuple[str, dict[str, dict[str, Any]]]:
    """Five delivered orders on five cards, and the store's feed: two exact purchases (one for
    an order whose beef was weighed heavier), a total and a tax mismatch, an unknown card, a
    purchase on a known card seven hours after its order; the fifth order bought nothing."""
    orders = {"exact": _delivered_order(shop, CARDS["exact"]),
              "weighed": _delivered_order(shop, CARDS["weighed"], {"type": "weighed", "line_id": "beef",
                                                                    "quantity": 1_250}),
              "total": _delivered_order(shop, CARDS["total"]), "tax": _delivered_order(shop, CARDS["tax"]),
              "absent": _delivered_order(shop, CARDS["absent"])}
    at = {name: _authorized_at(shop, order) for name, order in orders.items()}
    till = {name: _till(order) for name, order in orders.items()}
    assert till["exact"] == (2_807, 84) and till["weighed"] == (2_807 + 225, 84)  # no $3.99 fee, no $2 tip
    minute = dt.timedelta(minutes=1)
    body = HEADER + "".join([
        _line(at["exact"] - minute, "0000", 1_234, 0),  # line 2: an unknown card
        _line(at["exact"] + minute, "4242", *till["exact"]),  # 3
        _line(at["weighed"] + minute, "4444", *till["weighed"]),  # 4
        _line(at["total"] + minute, "1117", till["total"][0] + 150, till["total"][1]),  # 5
        _line(at["tax"] + minute, "8210", till["tax"][0], till["tax"][1] + 7),  # 6
        _line(at["exact"] + dt.timedelta(hours=7), "4242", *till["exact"]),  # 7: outside the 6 h window
    ])
    return body, orders


def test_a_feed_is_matched_to_the_orders_card_authorizations(
        shop: httpx.Client, merchant: tuple[str, str], engine: Engine, database_url: str, data_dir: Path,
        tmp_path: Path) -> None:
    body, orders = _feed(shop)
    imported = _import(shop, body)
    assert imported.status_code == 200, imported.text
    feed = imported.json()
    assert feed["object"] == "pos_feed" and feed["rows"] == 6
    listed = shop.get(f"/v1/reconciliation/pos_feeds/{feed['id']}/transactions", params={"limit": 100}).json()
    lines = {row["line"]: row for row in listed["data"]}
    assert {line: (row["status"], row["order"]) for line, row in lines.items()} == {
        2: ("unmatched", None), 3: ("matched", orders["exact"]["id"]), 4: ("matched", orders["weighed"]["id"]),
        5: ("total_mismatch", orders["total"]["id"]), 6: ("tax_mismatch", orders["tax"]["id"]),
        7: ("unmatched", None)}
    assert lines[2]["detail"]["reason"] == "unknown_card"
    assert lines[7]["detail"]["reason"] == "outside_window" and lines[7]["detail"]["nearest_order"] == orders["exact"]["id"]
    assert lines[5]["detail"]["expected_total"] == 2_807 and lines[5]["detail"]["difference"] == 150
    assert lines[6]["detail"]["expected_tax"] == 84 and lines[6]["detail"]["difference"] == 7
    summary = feed["summary"]
    assert summary["counts"] == {"matched": 2, "total_mismatch": 1, "tax_mismatch": 1, "unmatched": 2}
    assert summary["match_rate"] == round(2 / 6, 4)
    assert [item["order"] for item in summary["orders_without_purchase"]] == [orders["absent"]["id"]]
    assert summary["amounts"]["usd"]["total_difference"] == 150 and summary["amounts"]["usd"]["tax_difference"] == 7
    assert shop.get(f"/v1/reconciliation/pos_feeds/{feed['id']}").json() == feed
    mismatches = shop.get(f"/v1/reconciliation/pos_feeds/{feed['id']}/transactions",
                          params={"status": "unmatched"}).json()
    assert [row["line"] for row in mismatches["data"]] == [2, 7]

    # The same content again: the same feed, nothing written; through the CLI too.
    before = _counts(engine, merchant[0])
    assert before == (1, 6)
    again = _import(shop, body, name="resent.csv")
    assert again.status_code == 200 and again.json() == feed
    path = tmp_path / "store_7.csv"
    path.write_text(body)
    ran = _cli(database_url, data_dir, "import", str(path), "--merchant", merchant[0])
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"imported before, as {feed['id']}" in ran.stdout and "outside_window" in ran.stdout
    assert _counts(engine, merchant[0]) == before

    # Another merchant's feed is not found.
    with engine.begin() as connection:
        other = create_merchant(connection, f"test-{secrets.token_hex(4)}")
    stranger = {"Authorization": f"Bearer {other.secret_key}"}
    assert shop.get(f"/v1/reconciliation/pos_feeds/{feed['id']}", headers=stranger).status_code == 404
    assert shop.get(f"/v1/reconciliation/pos_feeds/{feed['id']}/transactions", headers=stranger).status_code == 404


GOOD = "store_7,2025-03-01T14:05:00Z,4242,28.07,0.84\n"


@pytest.mark.parametrize(("body", "line", "column"), [
    ("store,timestamp,card_last4,total\n" + "store_7,2025-03-01T14:05:00Z,4242,28.07\n", 1, "tax"),
    (HEADER + GOOD + "store_7,2025-03-01T14:06:00Z,4242,28.0x,0.84\n", 3, "total"),
    (HEADER + GOOD + GOOD + "store_7,2025-03-01T14:06:00Z,4242,1.00,2.00\n", 4, "tax"),
    (HEADER + GOOD + "store_7,2025-03-01T14:06:00Z,4242,-1.00,0\n", 3, "total"),
    (HEADER + GOOD + "store_7,2025-03-01T14:06:00Z,42,1.00,0\n", 3, "card_last4"),
    (HEADER + GOOD + "store_7,14:06 on Saturday,4242,1.00,0\n", 3, "timestamp"),
])
def test_a_bad_file_is_rejected_naming_line_and_column_and_nothing_is_written(
        client: httpx.Client, merchant: tuple[str, str], engine: Engine, body: str, line: int, column: str) -> None:
    rejected = _import(client, body)
    assert rejected.status_code == 400, rejected.text
    error = rejected.json()["error"]
    assert (error["type"], error["code"], error["line"], error["column"]) == (
        "invalid_request_error", "file_rejected", line, column)
    assert f"line {line}, column '{column}'" in error["message"]
    assert _counts(engine, merchant[0]) == (0, 0)


def test_what_is_not_a_csv_body_is_refused(client: httpx.Client) -> None:
    as_json = client.post("/v1/reconciliation/pos_feeds", params={"name": "x"}, json={"store": "s"})
    assert (as_json.status_code, as_json.json()["error"]["code"]) == (400, "content_type_invalid")
    binary = _import(client, b"store,timestamp\xff\n")
    assert (binary.status_code, binary.json()["error"]["code"]) == (400, "file_rejected")
    assert client.get("/v1/reconciliation/pos_feeds/posf_missing").status_code == 404


def test_the_cli_rejects_a_bad_file(merchant: tuple[str, str], database_url: str, data_dir: Path,
                                    tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + GOOD + "store_7,2025-03-01T14:06:00Z,4242,1.00,2.00\n")
    ran = _cli(database_url, data_dir, "import", str(path), "--merchant", merchant[0])
    assert ran.returncode == 1 and "line 3, column 'tax'" in ran.stderr, ran.stdout + ran.stderr


def _cli(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BASKETPAY_DATABASE_URL": database_url, "BASKETPAY_DATA_DIR": str(data_dir),
           "BASKETPAY_VAULT_KEY_ENCRYPTION_KEY": TEST_KEK, "BASKETPAY_LOG_LEVEL": "WARNING", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "basketpay.cli.main", "pos-feed", *args], env=env,
                          capture_output=True, text=True, timeout=120)
