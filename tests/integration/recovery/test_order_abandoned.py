"""What a dead API process leaves of an order, and how the relay clears it.

1. The API process dies in the middle of a checkout, right after the card processor
   authorized the hold (the fault seam `BASKETPAY_FAULT_CRASH_AFTER_PROCESSOR_CALL`): the
   order stays `authorizing` with a hold basketpay never recorded. Nobody retries; after
   `ORDER_CHECKOUT_ABANDON_AFTER_SECONDS` the relay abandons the checkout, the cancel
   workflow finds the hold by its key (once the sweeper has resolved the attempt) and
   voids it: the order ends `failed`, nothing stays authorized.
2. The API commits a milestone and dies before enqueueing its workflow: the relay finds
   the `order_workflows` row unstarted and enqueues it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from basketpay.merchants.service import create_merchant
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from tests.conftest import server_env
from tests.helpers import card, post
from tests.orders_helpers import basket, order_env, wait_for

pytestmark = pytest.mark.slow
LEASE = {"BASKETPAY_IDEMPOTENCY_LEASE_SECONDS": "1", "BASKETPAY_PROCESSOR_TIMEOUT_MS": "500",
         "BASKETPAY_SWEEPER_INTERVAL_SECONDS": "0.5"}


@pytest.fixture(scope="module")
def env(data_dir: Path) -> Iterator[dict[str, str]]:
    sandboxes = SandboxProcesses().start()
    yield {**server_env(data_dir), **order_env(sandboxes.urls["ebt"]), **LEASE}
    sandboxes.stop()


@pytest.fixture(scope="module")
def secret(own_engine: Engine) -> str:
    with own_engine.begin() as connection:
        return create_merchant(connection, "abandoned").secret_key


def _client(server: ServerProcess, secret: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=10.0)


def test_a_checkout_cut_short_is_abandoned_and_its_hold_voided(
        own_database_url: str, env: dict[str, str], secret: str, own_engine: Engine, data_dir: Path) -> None:
    crashing = ServerProcess(own_database_url, env={**env, "BASKETPAY_FAULT_CRASH_AFTER_PROCESSOR_CALL": "true"},
                             log_path=data_dir / "abandon-crash.log").start()
    with _client(crashing, secret) as client:
        payment_method = card(client)
        with pytest.raises(httpx.TransportError):
            post(client, "/v1/orders", basket(tenders=[{"type": "card", "payment_method": payment_method}]),
                 key="abandoned-checkout")
    crashing.stop()
    with own_engine.connect() as connection:
        order_id, status = connection.execute(text("SELECT id, status FROM orders")).one()
        assert status == "authorizing"
    server = ServerProcess(own_database_url, env=env, worker=True, log_path=data_dir / "abandon.log").start()
    try:
        with _client(server, secret) as client:
            order = wait_for(client, order_id, "failed", timeout=60)
        assert order["failure"] == {"code": "checkout_abandoned"}
        assert [item["status"] for item in order["tenders"][0]["authorizations"]] == ["released"]
        with own_engine.connect() as connection:
            statuses = connection.execute(text(
                "SELECT status FROM payment_intents WHERE metadata->>'order' = :order"), {"order": order_id}).scalars()
            assert list(statuses) == ["canceled"]
    finally:
        server.stop()


def test_a_milestone_never_enqueued_is_enqueued_by_the_relay(
        own_database_url: str, env: dict[str, str], secret: str, own_engine: Engine, data_dir: Path) -> None:
    api = ServerProcess(own_database_url, env=env, worker=False, log_path=data_dir / "relay-api.log").start()
    try:
        with _client(api, secret) as client:
            created = post(client, "/v1/orders", basket(tenders=[{"type": "card", "payment_method": card(client)}]))
            order_id = created.json()["id"]
        # What the API commits for a delivery, without the enqueue that would follow.
        with own_engine.begin() as connection:
            connection.execute(text("UPDATE orders SET status = 'delivering' WHERE id = :id"), {"id": order_id})
            connection.execute(text(
                "INSERT INTO order_workflows (id, order_id, milestone, dbos_id, due_at)"
                " VALUES (:wf, :id, 'deliver', :wf, now())"), {"wf": f"order:{order_id}:deliver", "id": order_id})
    finally:
        api.stop()
    server = ServerProcess(own_database_url, env=env, worker=True, log_path=data_dir / "relay.log").start()
    try:
        with _client(server, secret) as client:
            done = wait_for(client, order_id, "delivered", timeout=60)  # the tip waits for its 2-hour window
        assert done["amount_captured"] == 3_206
        with own_engine.connect() as connection:
            finished = connection.execute(text(
                "SELECT finished_at IS NOT NULL FROM order_workflows WHERE id = :wf"),
                {"wf": f"order:{order_id}:deliver"}).scalar()
        assert finished
    finally:
        server.stop()
