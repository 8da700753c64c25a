"""Driving grocery orders through the API in tests: a server with an in-process order
worker and the sandboxes (EBT among them), basket and tender builders, and waiting for
an order's workflows to reach a status."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from basketpay.demo.shop import BASKET
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from tests.helpers import card, new_key, post

EBT_CARD = "5077031234567890123"
FINAL = ("completed", "canceled", "failed")


def order_env(ebt_url: str, **extra: str) -> dict[str, str]:
    return {
        "BASKETPAY_EBT_API_BASE": ebt_url,
        "BASKETPAY_WORKFLOW_POLL_INTERVAL_SECONDS": "0.05",
        "BASKETPAY_WORKFLOW_RELAY_INTERVAL_SECONDS": "0.5",
        "BASKETPAY_WORKFLOW_STALE_AFTER_SECONDS": "3",
        "BASKETPAY_ORDER_CHECKOUT_ABANDON_AFTER_SECONDS": "3",
        **extra,
    }


@contextmanager
def order_server(database_url: str, env: dict[str, str], log_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    sandboxes = SandboxProcesses().start()
    server = ServerProcess(database_url, env={**env, **order_env(sandboxes.urls["ebt"])}, worker=True,
                           log_path=log_path).start()
    try:
        yield server, sandboxes.urls["ebt"]
    finally:
        server.stop()
        sandboxes.stop()


def ebt_card(ebt_url: str, snap: int, number: str = EBT_CARD) -> str:
    httpx.post(ebt_url + "/__sandbox/balances", json={"card_number": number, "snap": snap}).raise_for_status()
    response = httpx.post(ebt_url + "/v1/payment_methods", json={"card_number": number},
                          headers={"Authorization": "Bearer sk_ebt_test"})
    response.raise_for_status()
    return str(response.json()["id"])


def basket(**extra: Any) -> dict[str, Any]:
    """The demo's basket (basketpay/demo/shop.py): $3 apples ×2 (EBT), 1.000 lb beef at $8.99/lb
    (EBT), soda ×6 at $1.99 (+7% tax, 5¢ deposit), $3.99 delivery fee: items 600 + 899 + 1,194 =
    2,693¢ (1,499¢ EBT-eligible); total 2,693 + 84 tax + 30 deposit + 399 fee = 3,206¢."""
    return {**copy.deepcopy(BASKET), **extra}


def card_tender(client: httpx.Client, number: str | None = None) -> dict[str, Any]:
    return {"type": "card", "payment_method": card(client) if number is None else card(client, number)}


def create_order(client: httpx.Client, tenders: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return post(client, "/v1/orders", basket(tenders=tenders, **extra))


def event(client: httpx.Client, order_id: str, **body: Any) -> httpx.Response:
    return client.post(f"/v1/orders/{order_id}/events", json={"id": new_key(), **body})


def wait_for(client: httpx.Client, order_id: str, *statuses: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        order = client.get(f"/v1/orders/{order_id}").json()
        if order["status"] in statuses:
            return order
        time.sleep(0.05)
    raise AssertionError(f"order {order_id} is {order.get('status')}, not {statuses}: {order}")
