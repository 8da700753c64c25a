"""The order workflows DBOS runs: one short workflow per milestone (deliver, tip, refund,
cancel, grow the hold, the customer-action timeout, re-authorization), each one step.

Why so short (docs/research/dbos-spike-2026-11-25.md): the order's state lives in its row,
and every call a milestone makes is idempotent by a key derived from the order, so the
step can simply run again after a crash; DBOS gives the queue, exactly-once start by
workflow id, durable delays (the tip window, the timeout) and recovery of what a worker
was running when it died. Item events and checkout stay off DBOS: they are single
requests, and one workflow per event would cap throughput far below the target.
"""

from __future__ import annotations

from dbos import DBOS

from basketpay.orders.engine import MILESTONE_WORKFLOW
from basketpay.orders.service import OrderService

_service: OrderService | None = None


def bind(service: OrderService | None) -> None:
    """The worker's services (workflows are module functions: DBOS registers them by name)."""
    global _service
    _service = service


def _bound() -> OrderService:
    if _service is None:
        raise RuntimeError("no order service bound in this process (basketpay worker binds it)")
    return _service


@DBOS.step(name="order_milestone_step", retries_allowed=True, max_attempts=10, interval_seconds=0.2,
           backoff_rate=2.0)
async def milestone_step(milestone: str, order_id: str, argument: str | None, workflow_id: str) -> str:
    # Retried on any error (a processor unavailable, a call still in flight, a concurrent
    # change): about 3.5 minutes in all; after that the relay starts it again later.
    return await _bound().run_milestone(milestone, order_id, argument, workflow_id)


@DBOS.workflow(name=MILESTONE_WORKFLOW, max_recovery_attempts=1000)
async def order_milestone(milestone: str, order_id: str, argument: str | None, row_id: str) -> str:
    """`row_id` names the order_workflows row (a retry by the relay runs under another DBOS id)."""
    return await milestone_step(milestone, order_id, argument, row_id)
