"""The daily pull: the worker creates the DBOS schedule, and the scheduled workflow pulls a
day's files from the sandbox processor, imports and reconciles them; pulling again changes
nothing."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dbos import DBOSClient
from dbos._serialization import DBOSPortableJSONSerializer
from sqlalchemy import text
from sqlalchemy.engine import Engine

from basketpay.merchants.service import create_merchant
from basketpay.reconciliation.workflows import SCHEDULE_NAME
from basketpay.settings import Settings
from basketpay.workflows.runtime import APPLICATION, QUEUE, WORKFLOW_VERSION, system_database_url
from tests.reconciliation.sandbox_day import Processor, pay, start

pytestmark = pytest.mark.slow
WAIT_SECONDS_MAX = 60.0


@pytest.fixture(scope="module")
def pull_merchant(engine: Engine) -> tuple[str, str]:
    with engine.begin() as connection:
        created = create_merchant(connection, f"pull-{secrets.token_hex(4)}")
    return created.merchant_id, created.secret_key


@pytest.fixture(scope="module")
def processor(database_url: str, data_dir: Path, pull_merchant: tuple[str, str]) -> Iterator[Processor]:
    yield from start("stripe", database_url, data_dir, BASKETPAY_RECONCILIATION_PULL_MERCHANT=pull_merchant[0])


def _runs(engine: Engine, merchant_id: str) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [row.summary for row in connection.execute(text(
            "SELECT summary FROM reconciliation_runs WHERE merchant_id = :m ORDER BY seq"), {"m": merchant_id})]


def _pull(settings: Settings, scheduled: dt.datetime) -> None:
    """Start the scheduled workflow for `scheduled` as DBOS's scheduler would, and wait for it."""
    client = DBOSClient(system_database_url=system_database_url(settings), serializer=DBOSPortableJSONSerializer(),
                        application_name=APPLICATION)
    try:
        assert client.get_schedule(SCHEDULE_NAME) is not None  # the worker created it
        handle = client.enqueue({"workflow_name": "reconciliation_daily_pull", "queue_name": QUEUE,
                                 "app_version": WORKFLOW_VERSION}, scheduled.isoformat(), None)
        deadline = time.monotonic() + WAIT_SECONDS_MAX
        while handle.get_status().status not in ("SUCCESS", "ERROR") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert handle.get_status().status == "SUCCESS"
    finally:
        client.destroy()


def test_the_scheduled_pull_reconciles_the_day(processor: Processor, pull_merchant: tuple[str, str],
                                               settings: Settings, engine: Engine) -> None:
    headers = {"Authorization": f"Bearer {pull_merchant[1]}"}
    with httpx.Client(base_url=processor.server.base_url, headers=headers, timeout=30) as http:
        for amount in (1_000, 2_500, 7_300):
            pay(http, amount)
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    _pull(settings, dt.datetime.combine(tomorrow, dt.time(6), dt.UTC))  # pulls today
    runs = _runs(engine, pull_merchant[0])
    assert [(run["lines"], run["matched"], run["breaks"]) for run in runs] == [(3, 3, [])]
    with engine.connect() as connection:
        sources = set(connection.execute(text("SELECT source FROM settlement_files WHERE merchant_id = :m"),
                                         {"m": pull_merchant[0]}).scalars())
    assert sources == {"scheduled"}
    _pull(settings, dt.datetime.combine(tomorrow, dt.time(6), dt.UTC) + dt.timedelta(seconds=1))
    assert len(_runs(engine, pull_merchant[0])) == 1  # the same files again: nothing new


