"""The daily reconciliation as a DBOS scheduled workflow: at 06:00 UTC DBOS starts it
once for that time (whatever the number of workers; a day missed while no worker ran is
backfilled), and it pulls and reconciles the previous day for the merchant named by
BASKETPAY_RECONCILIATION_PULL_MERCHANT. Each worker makes sure the schedule exists.

The one step may run twice after a crash: importing is idempotent by file content and a
run reconciles only files no run has taken, in one transaction, so a second pass finds
nothing new.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dbos import DBOS
from dbos._error import DBOSException

from basketpay.reconciliation.pull import pull_day
from basketpay.reconciliation.service import Reconciliation
from basketpay.settings import Settings

__all__ = ["DAILY_SCHEDULE", "SCHEDULE_NAME", "bind", "daily_pull", "ensure_schedule"]

DAILY_SCHEDULE = "0 0 6 * * *"  # DBOS cron has seconds first
SCHEDULE_NAME = "reconciliation-daily-pull"
_bound: tuple[Reconciliation, Settings] | None = None


def bind(service: Reconciliation | None, settings: Settings | None = None) -> None:
    """The worker's reconciliation service (workflows are module functions)."""
    global _bound
    _bound = None if service is None or settings is None else (service, settings)


@DBOS.step(name="reconciliation_pull_step", retries_allowed=True, max_attempts=5, interval_seconds=30.0,
           backoff_rate=2.0)
async def pull_step(day: str) -> int:
    merchant = None if _bound is None else _bound[1].reconciliation_pull_merchant
    if _bound is None or merchant is None:
        return 0  # no merchant configured: nothing to pull
    service, settings = _bound
    return len(await pull_day(service, settings, merchant, dt.date.fromisoformat(day)))


@DBOS.workflow(name="reconciliation_daily_pull")
async def daily_pull(scheduled_time: dt.datetime | str, context: Any) -> None:
    """Reconcile the day before `scheduled_time` (the runs' summaries are stored with them).
    The time may come as ISO text: DBOS's portable JSON serializer carries no datetimes."""
    when = dt.datetime.fromisoformat(scheduled_time) if isinstance(scheduled_time, str) else scheduled_time
    await pull_step((when.date() - dt.timedelta(days=1)).isoformat())


async def ensure_schedule() -> None:
    """Create the daily schedule once (after DBOS.launch); another worker may race us to it."""
    if await DBOS.get_schedule_async(SCHEDULE_NAME) is not None:
        return
    try:
        await DBOS.create_schedule_async(schedule_name=SCHEDULE_NAME, workflow_fn=daily_pull, schedule=DAILY_SCHEDULE,
                                         automatic_backfill=True)
    except DBOSException:
        if await DBOS.get_schedule_async(SCHEDULE_NAME) is None:
            raise
