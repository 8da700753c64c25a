"""A basketpay worker: DBOS launched in this process's event loop, taking order workflows
from the queue, plus the relay — which enqueues again the order workflows a crash left
unstarted (the API commits, then enqueues) or that failed for good, and abandons
checkouts nobody finished."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import structlog
from dbos import DBOS

from basketpay.orders import repository
from basketpay.orders import workflows as order_workflows
from basketpay.orders.engine import MILESTONE_WORKFLOW
from basketpay.orders.service import OrderService
from basketpay.reconciliation import workflows as reconciliation_workflows
from basketpay.reconciliation.service import Reconciliation
from basketpay.settings import Settings
from basketpay.workflows.runtime import QUEUE, Enqueue, dbos_config

log = structlog.get_logger(__name__)
FAILED = ("ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
RELAY_BATCH = 100


@dataclass(slots=True)
class RelayReport:
    enqueued: int = 0
    retried: int = 0
    abandoned: int = 0


class Relay:
    def __init__(self, orders: OrderService, settings: Settings) -> None:
        self.orders = orders
        self.settings = settings

    async def run_once(self) -> RelayReport:
        report = RelayReport()
        engine = self.orders.engine
        older = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.settings.workflow_stale_after_seconds)
        async with engine.database.connection() as connection:
            stale = await repository.stale_workflows(connection, older, RELAY_BATCH)
        for row in stale:
            await self._revive(row, report)
        abandon_before = dt.datetime.now(dt.UTC) - dt.timedelta(
            seconds=self.settings.order_checkout_abandon_after_seconds)
        async with engine.database.connection() as connection:
            abandoned = await repository.abandoned_checkouts(connection, abandon_before, RELAY_BATCH)
        for row in abandoned:
            await self._abandon(row.id)
            report.abandoned += 1
        return report

    async def _revive(self, row: Any, report: RelayReport) -> None:
        engine = self.orders.engine
        status = await engine.workflows.status(row.dbos_id)
        if status == "SUCCESS":  # it ran, and the order moved on: nothing waits for it
            async with engine.database.transaction() as connection:
                await repository.finish_workflow(connection, row.id)
            return
        dbos_id = f"{row.id}:r{int(time.time())}" if status in FAILED else None
        async with engine.database.transaction() as connection:
            await repository.retry_workflow(connection, row.id, dbos_id)
        if status is None or dbos_id is not None:
            report.enqueued += status is None
            report.retried += dbos_id is not None
            args = (row.milestone, row.order_id, row.argument, row.id)
            await engine.enqueue([Enqueue(MILESTONE_WORKFLOW, dbos_id or row.dbos_id, args)])

    async def _abandon(self, order_id: str) -> None:
        async with self.orders.engine.change(order_id) as outbox:
            record = outbox.record
            if record.status != "authorizing":
                outbox.changed = False
                return
            record.status = "canceling"
            record.failure = {"code": "checkout_abandoned"}
            outbox.start("cancel")


async def run_worker(orders: OrderService, settings: Settings, executor_id: str, stop: asyncio.Event) -> None:
    """Run order workflows and the relay until `stop` is set."""
    order_workflows.bind(orders)
    reconciliation_workflows.bind(Reconciliation(orders.engine.database, settings), settings)
    DBOS(config=dbos_config(settings, executor_id))
    DBOS.launch()  # in this loop: DBOS runs our async workflows here, beside the services they use
    await DBOS.register_queue_async(QUEUE, worker_concurrency=settings.workflow_concurrency,
                                    polling_interval_sec=settings.workflow_poll_interval_seconds)
    await reconciliation_workflows.ensure_schedule()
    relay = Relay(orders, settings)
    log.info("worker_started", executor_id=executor_id, concurrency=settings.workflow_concurrency)
    try:
        while not stop.is_set():
            try:
                await relay.run_once()
            except Exception:  # a database hiccup must not stop the worker
                log.warning("relay_failed", exc_info=True)
            try:
                await asyncio.wait_for(stop.wait(), settings.workflow_relay_interval_seconds)
            except TimeoutError:
                pass
    finally:
        await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=5)
        order_workflows.bind(None)
        reconciliation_workflows.bind(None)


def serve_worker(settings: Settings, executor_id: str | None) -> None:
    """`basketpay worker`: migrate, build the services, run until SIGTERM or SIGINT."""
    import signal

    from basketpay.api.app import build_services, close_services
    from basketpay.db.migrate import migrate
    from basketpay.workflows.runtime import default_executor_id

    url = migrate(settings)
    settings = settings.model_copy(update={"database_url": url})

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        container = await build_services(settings)
        try:
            await run_worker(container.orders, settings, executor_id or default_executor_id(), stop)
        finally:
            await close_services(container)

    asyncio.run(main())
