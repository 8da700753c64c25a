"""DBOS, configured for basketpay (see docs/research/dbos-spike-2026-11-25.md).

API processes only enqueue, through a `DBOSClient` (they never run workflows, so a crash
of one leaves nothing of its own to recover). Workers launch DBOS on the same PostgreSQL
(schema `dbos`) and take order workflows from the `orders` queue. Each worker must have
its own executor id, stable across its restarts: at launch DBOS recovers the workflows
that executor id left pending, and two live processes sharing one would run them twice.

The application version is pinned: DBOS only dequeues workflows of its own version, and
its default (a hash of the workflow code) would strand queued work at every deploy.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, DBOSClient, DBOSConfig, DBOSPortableJSONSerializer, EnqueueOptions
from dbos._error import DBOSNonExistentWorkflowError

from basketpay.db.engine import database_url
from basketpay.settings import Settings

APPLICATION = "basketpay"
QUEUE = "orders"
# Bump when a workflow's steps change shape: workers then leave older workflows to older workers.
WORKFLOW_VERSION = "orders-1"


def system_database_url(settings: Settings) -> str:
    return database_url(settings)


def default_executor_id() -> str:
    return f"worker-{socket.gethostname()}"


def dbos_config(settings: Settings, executor_id: str) -> DBOSConfig:
    return {
        "name": APPLICATION,
        "system_database_url": system_database_url(settings),
        "application_version": WORKFLOW_VERSION,
        "executor_id": executor_id,
        "sys_db_pool_size": max(4, settings.workflow_concurrency + 2),
        "log_level": os.environ.get("BASKETPAY_DBOS_LOG_LEVEL", "WARNING"),
        "serializer": DBOSPortableJSONSerializer(),
        "run_migrations": False,  # `basketpay migrate` does it, once, with the Alembic migrations
    }


def migrate_system_database(settings: Settings) -> None:
    DBOS.migrate(system_database_url(settings))


@dataclass(frozen=True, slots=True)
class Enqueue:
    """A workflow to start: its registered name, its id (the idempotency key: the same id
    twice runs once), its arguments, and how long to wait before it may start."""

    name: str
    workflow_id: str
    args: tuple[Any, ...]
    delay_seconds: float = 0.0


class WorkflowClient:
    """Enqueues order workflows from any process (the API, the relay, the worker itself)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: DBOSClient | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> DBOSClient:
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.to_thread(
                    DBOSClient, system_database_url=system_database_url(self._settings),
                    serializer=DBOSPortableJSONSerializer(), application_name=APPLICATION,
                    system_database_pool_size=4)
            return self._client

    async def enqueue(self, item: Enqueue) -> None:
        client = await self._connected()
        options: EnqueueOptions = {"workflow_name": item.name, "queue_name": QUEUE, "workflow_id": item.workflow_id,
                                   "app_version": WORKFLOW_VERSION}
        if item.delay_seconds > 0:
            options["delay_seconds"] = item.delay_seconds
        await client.enqueue_async(options, *item.args)

    async def status(self, workflow_id: str) -> str | None:
        client = await self._connected()
        try:
            found: Any = await client.retrieve_workflow_async(workflow_id)
            return str((await found.get_status()).status)
        except DBOSNonExistentWorkflowError:
            return None

    async def close(self) -> None:
        if self._client is not None:
            # Not in a thread: at shutdown DBOS may have closed the executor asyncio's threads come from.
            self._client.destroy()
            self._client = None
