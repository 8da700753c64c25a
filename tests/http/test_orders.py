"""Grocery orders end to end over HTTP: checkout across tenders, fulfilment changes,
delivery captures, tips, refunds and cancellation, with the order workflows running in
the server's worker against the sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from basketpay.server import ServerProcess
from tests.conftest import server_env
from tests.helpers import post
from tests.orders_helpers import card_tender, create_order, ebt_card, event, order_server, wait_for


@pytest.fixture(scope="module")
def orders_server(database_url: str, data_dir: Path) -> Iterator[tuple[ServerProcess, str]]:
    with order_server(database_url, server_env(data_dir), data_dir / "orders-server.log") as running:
        yield running


@pytest.fixture()
def shop(orders_server: tuple[ServerProcess, str], merchant: tuple[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {merchant[1]}"}
    with httpx.Client(base_url=orders_server[0].base_url, headers=headers, timeout=30.0) as http:
        post(http, "/v1/order_policy", {"tip_change_window_seconds": 0}, key=None)
        yield http


def test_a_card_order_from_estimate_to_tip(shop: httpx.Client) -> None:
    created = create_order(shop, [card_tender(shop)], tip=300)
    assert created.status_code == 200, created.text
    order = created.json()
    assert order["status"] == "authorized"
    assert order["amount_total"] == 3206 and order["card_hold"] == 4000  # 115% of 32.06 = 36.87 -> $40
    weighed = event(shop, order["id"], type="weighed", line_id="beef", quantity=1250)
    assert weighed.status_code == 200, weighed.text
    assert weighed.json()["amount_total"] == 3206 + 225
    delivered = shop.post(f"/v1/orders/{order['id']}/deliver")
    assert delivered.status_code == 200, delivered.text
    done = wait_for(shop, order["id"], "completed")
    assert done["amount_captured"] == 3431 + 300
    assert done["tip"]["captured"] == 300
    assert done["ledger_entries"]
