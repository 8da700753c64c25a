"""Order workflows survive their worker being killed. 200 grocery orders (EBT, gift card
and card tenders; three item changes, delivery, a tip; some canceled) go through the API
while the processors misbehave (the Stripe sandbox loses 10% of its replies and fails 5%
of requests; the EBT sandbox fails 5%), and the one worker process is SIGKILLed at random
moments and restarted with its executor id, over and over.

Afterwards every order must be in a final state; every tender captured exactly once (one
successful capture attempt per card authorization, the EBT processor's captured amount
equal to the order's); no hold left open anywhere (card intents, EBT payments, ledger
holds); each completed order's captures equal its final basket plus its tip, each canceled
order's captures fully refunded; and `basketpay ledger check` passes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from basketpay.ledger.check import check_ledger
from basketpay.merchants.service import create_merchant
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess, terminate
from tests.conftest import server_env
from tests.helpers import card, post
from tests.orders_helpers import FINAL, basket, ebt_card, order_env

pytestmark = pytest.mark.slow

ORDERS = 200
CLIENTS = 8
STRIPE_FAULTS = {"error_rate": 0.05, "reply_lost_rate": 0.10, "seed": 20261125}
EBT_FAULTS = {"error_rate": 0.05, "seed": 20261126}
KILL_EVERY_SECONDS = (1.0, 3.0)  # a worker takes about a second to start
SETTLE_SECONDS_MAX = 240.0


class Worker:
    """`basketpay worker` in a child process, killed and restarted under one executor id."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "basketpay.cli.main", "worker", "--executor-id", "crash-test-worker"],
            env=self.env, stdout=log, stderr=log)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)


@pytest.fixture(scope="module")
def stack(own_database_url: str, data_dir: Path) -> Iterator[tuple[ServerProcess, Worker, str]]:
    sandboxes = SandboxProcesses().start()
    env = {**server_env(data_dir), **order_env(sandboxes.urls["ebt"]),
           "BASKETPAY_DEFAULT_CONNECTOR": "stripe", "BASKETPAY_STRIPE_API_BASE": sandboxes.urls["stripe"],
           "BASKETPAY_STRIPE_SECRET_KEY": "sk_test_crash", "BASKETPAY_STRIPE_SEARCH_GRACE_SECONDS": "0",
           "BASKETPAY_IDEMPOTENCY_LEASE_SECONDS": "3", "BASKETPAY_PROCESSOR_TIMEOUT_MS": "2000",
           "BASKETPAY_SWEEPER_INTERVAL_SECONDS": "0.5", "BASKETPAY_ORDER_TIP_CHANGE_WINDOW_SECONDS": "0"}
    server = ServerProcess(own_database_url, env=env, log_path=data_dir / "crash-api.log").start()
    worker = Worker({**os.environ, **env, "BASKETPAY_DATABASE_URL": own_database_url}, data_dir / "crash-worker.log")
    worker.start()
    try:
        yield server, worker, sandboxes.urls["ebt"]
    finally:
        worker.stop()
        server.stop()
        sandboxes.stop()


def _tenders(client: httpx.Client, ebt_url: str, index: int) -> list[dict[str, Any]]:
    """Set up before the faults start: a card for every order, EBT for every second, a gift card every third."""
    tenders: list[dict[str, Any]] = [{"type": "card", "payment_method": card(client)}]
    if index % 2 == 0:
        number = f"50770312{index:011d}"
        tenders.append({"type": "snap_ebt", "payment_method": ebt_card(ebt_url, 1_200, number), "pin_token": "pin_ok"})
    if index % 3 == 0:
        gift = post(client, "/v1/gift_cards", {"amount": 500, "currency": "usd"}).json()["id"]
        tenders.append({"type": "gift_card", "gift_card": gift})
    return tenders


def _one_order(client: httpx.Client, tenders: list[dict[str, Any]], index: int) -> str:
    created = _retry(lambda: post(client, "/v1/orders", basket(tenders=tenders, tip=200), key=f"crash-{index}"))
    order_id = str(created.json().get("id") or created.json()["error"]["order"]["id"])
    for change in ({"type": "weighed", "line_id": "beef", "quantity": 1_100 + index},
                   {"type": "substituted", "line_id": "soda",
                    "line": {"id": "seltzer", "unit_price": 249, "quantity": 6, "tax_rate_bps": 700}},
                   {"type": "added", "line_id": f"extra-{index}",
                    "line": {"id": f"extra-{index}", "unit_price": 150 + index * 37, "quantity": 1 + index % 4}}):
        event = {"id": f"{order_id}-{change['type']}", **change}
        _retry(lambda event=event: client.post(f"/v1/orders/{order_id}/events", json=event))  # type: ignore[misc]
    if index % 10 == 9:
        _retry(lambda: client.post(f"/v1/orders/{order_id}/cancel"))
        return order_id
    _wait_status(client, order_id, ("authorized",))
    _retry(lambda: client.post(f"/v1/orders/{order_id}/deliver"))
    _retry(lambda: client.post(f"/v1/orders/{order_id}/tip", json={"amount": 300 + index}))
    return order_id


def _retry(call: Any) -> httpx.Response:
    """A request the API answers 409 (the order is busy) or 5xx, or a dropped connection, is tried
    again (with the same Idempotency-Key where it has one)."""
    for _ in range(200):
        try:
            response: httpx.Response = call()
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if response.status_code in (200, 402):
            return response
        if response.status_code not in (409, 500, 502, 503):
            raise AssertionError(response.text)
        time.sleep(0.1)
    raise AssertionError(f"still refused: {response.text}")


def _wait_status(client: httpx.Client, order_id: str, statuses: tuple[str, ...], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        order = client.get(f"/v1/orders/{order_id}").json()
        if order["status"] in statuses:
            return order
        time.sleep(0.1)
    raise AssertionError(f"{order_id} stuck in {order['status']}")


def _killer(worker: Worker, stop: threading.Event) -> None:
    chance = random.Random(20261125)
    while not stop.wait(chance.uniform(*KILL_EVERY_SECONDS)):
        worker.kill()
        worker.start()


def test_orders_survive_a_worker_killed_at_random(stack: tuple[ServerProcess, Worker, str],
                                                  own_engine: Engine) -> None:
    server, worker, ebt_url = stack
    with own_engine.begin() as connection:
        secret = create_merchant(connection, "crash").secret_key
    client = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30.0)
    tenders = [_tenders(client, ebt_url, index) for index in range(ORDERS)]
    _faults(ebt_url, server, on=True)
    stop = threading.Event()
    killer = threading.Thread(target=_killer, args=(worker, stop), daemon=True)
    killer.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            order_ids = list(pool.map(lambda i: _one_order(client, tenders[i], i), range(ORDERS)))
    finally:
        stop.set()
        killer.join()
    _faults(ebt_url, server, on=False)
    orders = [_wait_status(client, order_id, FINAL, SETTLE_SECONDS_MAX) for order_id in order_ids]
    assert worker.kills >= 5
    _check_orders(orders, ebt_url)
    _check_processors_and_ledger(own_engine, orders)


def _faults(ebt_url: str, server: ServerProcess, on: bool) -> None:
    for url, faults in ((ebt_url, EBT_FAULTS), (server.env["BASKETPAY_STRIPE_API_BASE"], STRIPE_FAULTS)):
        answer = httpx.post(url + "/__sandbox/faults", json=faults if on else {"error_rate": 0, "reply_lost_rate": 0})
        answer.raise_for_status()


def _check_orders(orders: list[dict[str, Any]], ebt_url: str) -> None:
    assert {order["status"] for order in orders} <= {"completed", "canceled"}
    for order in orders:
        assert (order["status"] == "canceled") == (order["canceled_at"] is not None), order["id"]
        for tender in order["tenders"]:
            assert all(item["status"] in ("captured", "released") for item in tender["authorizations"]), order["id"]
        if order["status"] == "completed":
            assert order["amount_captured"] == order["amount_total"] + order["tip"]["amount"], order["id"]
            assert order["tip"]["captured"] == order["tip"]["amount"]
        else:
            assert order["amount_captured"] == order["amount_refunded"], order["id"]
        ebt = next((tender for tender in order["tenders"] if tender["type"] == "snap_ebt"), None)
        if ebt is not None and ebt["authorizations"]:
            payment = httpx.get(f"{ebt_url}/v1/payments/{ebt['authorizations'][0]['id']}",
                                headers={"Authorization": "Bearer sk_ebt_test"}).json()
            assert payment["captured"] == ebt["captured"] and payment["status"] != "authorized", order["id"]
            assert ebt["captured"] <= order["amount_snap_eligible"]


def _check_processors_and_ledger(engine: Engine, orders: list[dict[str, Any]]) -> None:
    with engine.connect() as connection:
        open_intents = connection.execute(text(
            "SELECT count(*) FROM payment_intents WHERE status = 'requires_capture'")).scalar_one()
        double_captures = connection.execute(text(
            "SELECT payment_intent_id FROM payment_attempts WHERE operation = 'capture' AND status = 'succeeded'"
            " GROUP BY payment_intent_id HAVING count(*) > 1")).fetchall()
        open_holds = connection.execute(text("SELECT count(*) FROM ledger_holds WHERE status = 'pending'")).scalar_one()
        report = check_ledger(connection)
    assert open_intents == 0
    assert double_captures == []
    assert open_holds == 0
    assert report.ok, report.violations
    assert sum(order["amount_captured"] for order in orders) > 0
