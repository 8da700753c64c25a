"""Two API processes and two workers at once: every order workflow runs on exactly one
worker, once, and every order ends as if there had been one of each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from basketpay.merchants.service import create_merchant
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess, terminate
from tests.conftest import server_env
from tests.helpers import card, post
from tests.orders_helpers import basket, order_env, wait_for

pytestmark = pytest.mark.slow
ORDERS = 60


@pytest.fixture(scope="module")
def two_of_each(own_database_url: str, data_dir: Path) -> Iterator[tuple[ServerProcess, list[Path]]]:
    sandboxes = SandboxProcesses().start()
    env = {**server_env(data_dir), **order_env(sandboxes.urls["ebt"]), "BASKETPAY_ORDER_TIP_CHANGE_WINDOW_SECONDS": "0"}
    server = ServerProcess(own_database_url, env=env, workers=2, log_path=data_dir / "two-api.log").start()
    logs = [data_dir / f"two-worker-{index}.log" for index in range(2)]
    workers = [subprocess.Popen([sys.executable, "-m", "basketpay.cli.main", "worker", "--executor-id", f"two-{index}"],
                                env={**os.environ, **env, "BASKETPAY_DATABASE_URL": own_database_url},
                                stdout=open(log, "wb"), stderr=subprocess.STDOUT)
               for index, log in enumerate(logs)]
    try:
        yield server, logs
    finally:
        for worker in workers:
            terminate(worker)
        server.stop()
        sandboxes.stop()


def _lifecycle(client: httpx.Client, index: int) -> str:
    order = post(client, "/v1/orders", basket(tenders=[{"type": "card", "payment_method": card(client)}], tip=100))
    order_id = str(order.json()["id"])
    client.post(f"/v1/orders/{order_id}/events", json={"id": "w", "type": "weighed", "line_id": "beef",
                                                       "quantity": 900 + index})
    client.post(f"/v1/orders/{order_id}/deliver")
    if index % 3 == 0:
        wait_for(client, order_id, "completed")
        post(client, f"/v1/orders/{order_id}/refunds", {"lines": [{"line_id": "apples", "quantity": 1}]})
    return order_id


def _settled(client: httpx.Client, order_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        order = wait_for(client, order_id, "completed")
        if all(refund["status"] == "succeeded" for refund in order["refunds"]):
            return
        time.sleep(0.1)
    raise AssertionError(f"{order_id}: a refund never finished")


def test_no_order_is_processed_twice(two_of_each: tuple[ServerProcess, list[Path]], own_engine: Engine) -> None:
    server, logs = two_of_each
    with own_engine.begin() as connection:
        secret = create_merchant(connection, "two-of-each").secret_key
    client = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30.0)
    with ThreadPoolExecutor(8) as pool:
        order_ids = list(pool.map(lambda index: _lifecycle(client, index), range(ORDERS)))
    for order_id in order_ids:
        _settled(client, order_id)
    runs: Counter[str] = Counter()
    by_worker: Counter[int] = Counter()
    for index, log in enumerate(logs):
        for line in log.read_text().splitlines():
            if '"order_milestone"' in line:
                runs[json.loads(line)["workflow"]] += 1
                by_worker[index] += 1
    assert runs and max(runs.values()) == 1, [w for w, n in runs.items() if n > 1]
    assert min(by_worker.values()) > 0  # both workers took work
    # A deliver workflow for each (with no tip window it charges the tip too), a refund for every third.
    expected = ORDERS + len(range(0, ORDERS, 3))
    assert len(runs) == expected
    with own_engine.connect() as connection:
        captures = connection.execute(text(
            "SELECT payment_intent_id, count(*) FROM payment_attempts WHERE operation IN ('capture', 'sale')"
            " AND status = 'succeeded' GROUP BY payment_intent_id HAVING count(*) > 1")).fetchall()
        executors = connection.execute(text(
            "SELECT count(DISTINCT executor_id) FROM dbos.workflow_status WHERE workflow_uuid LIKE 'order:%'")).scalar()
    assert captures == []
    assert executors == 2
