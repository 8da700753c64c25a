"""What every order operation shares: the services it calls, and one way to change an
order — lock its row, change the record, write it back with its events (the outbox) and
the workflows it now waits for, commit, then enqueue those workflows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from psycopg import AsyncConnection

from basketpay.connectors.ebt.client import EbtClient
from basketpay.ledger import chart
from basketpay.ledger.batch import insert_entries
from basketpay.ledger.posting import Entry, Posting, hold_bucket
from basketpay.ledger.service import LedgerService
from basketpay.orders import repository
from basketpay.orders.record import OrderPolicy, OrderRecord
from basketpay.orders.serializers import order_json
from basketpay.orders.tender_ops import Cards, Ebt, StoredValueTenders, order_key
from basketpay.outbox.writer import event_row, record_events
from basketpay.payments.service import PaymentService
from basketpay.settings import Settings
from basketpay.workflows.runtime import Enqueue, WorkflowClient

log = structlog.get_logger(__name__)
MILESTONE_WORKFLOW = "order_milestone"
RECEIVABLES = chart.CUSTOMER_RECEIVABLES  # every tender pays into it; an order's allocation takes from it


def milestone(order_id: str, name: str, argument: str | None = None, delay_seconds: float = 0.0) -> Enqueue:
    workflow_id = f"order:{order_id}:{name}" + ("" if argument is None else f":{argument}")
    return Enqueue(MILESTONE_WORKFLOW, workflow_id, (name, order_id, argument, workflow_id), max(0.0, delay_seconds))


@dataclass(slots=True)
class Outbox:
    """What a change to one order leaves behind: its events and the workflows it starts."""

    connection: AsyncConnection[Any]
    record: OrderRecord
    events: list[str] = field(default_factory=list)
    workflows: list[Enqueue] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    changed: bool = True
    hot_buckets: int = 1

    def emit(self, event_type: str) -> None:
        self.events.append(event_type)

    def post(self, step: str, kind: str, legs: list[tuple[str, str, int]], description: str) -> None:
        """A balanced entry written with this change (so once, with it): (account code or id,
        debit|credit, amount) legs; zero legs dropped. Its client id names the step: a second
        write of the same step would be refused by the ledger's unique index."""
        record = self.record
        postings = [self._posting(account, amount if direction == "debit" else -amount)
                    for account, direction, amount in legs if amount > 0]
        if postings:
            self.entries.append(Entry(record.merchant_id, kind, postings, object_id=record.id, description=description,
                                      client_entry_id=order_key(record.id, "ledger", step)))

    def _posting(self, account: str, amount: int) -> Posting:
        record = self.record
        if account.startswith("la_"):  # a guarded account of its own (credit, gift card): one balance row
            return Posting(account, record.currency.upper(), amount)
        spec = chart.spec_for(account, ())
        buckets = self.hot_buckets if spec is not None and spec.hot else 1
        return Posting(chart.account_id(record.merchant_id, account, record.currency), record.currency.upper(),
                       amount, bucket=hold_bucket(record.id, buckets))

    def start(self, name: str, argument: str | None = None, delay_seconds: float = 0.0) -> None:
        self.workflows.append(milestone(self.record.id, name, argument, delay_seconds))

    def finish(self, workflow_id: str | None) -> None:
        if workflow_id is not None:
            self.finished.append(workflow_id)


class OrderEngine:
    def __init__(self, payments: PaymentService, ledger: LedgerService, ebt: EbtClient | None,
                 workflows: WorkflowClient, settings: Settings) -> None:
        self.payments = payments
        self.database = payments.database
        self.ledger = ledger
        self.cards = Cards(payments)
        self.ebt = Ebt(ebt)
        self.stored = StoredValueTenders(ledger)
        self.workflows = workflows
        self.settings = settings

    def default_policy(self) -> OrderPolicy:
        s = self.settings
        return OrderPolicy(s.order_hold_buffer_percent, s.order_hold_round_up_major, s.order_increment_threshold_minor,
                           s.order_tip_change_window_seconds, s.order_tip_increase_window_seconds,
                           s.order_customer_action_timeout_seconds, s.order_customer_action_timeout_outcome)

    @asynccontextmanager
    async def change(self, order_id: str, merchant_id: str | None = None) -> AsyncIterator[Outbox]:
        """Lock the order, let the caller change it, write it back; enqueue its workflows after
        the commit (if that fails, the relay enqueues them from order_workflows)."""
        async with self.database.transaction() as connection:
            if merchant_id is None:
                record = await repository.load_any(connection, order_id)
            else:
                record = await repository.load(connection, merchant_id, order_id, lock=True)
            outbox = Outbox(connection, record, hot_buckets=self.settings.ledger_hot_account_buckets)
            yield outbox
            await self._write(outbox)
        await self.enqueue(outbox.workflows)

    async def _write(self, outbox: Outbox) -> None:
        record, connection = outbox.record, outbox.connection
        if outbox.changed:
            await repository.save(connection, record)
        if outbox.events:
            body = order_json(record)
            await record_events(connection, [event_row(record.merchant_id, kind, record.id, body)
                                             for kind in outbox.events])
        outbox.workflows = [item for item in outbox.workflows
                            if await repository.add_workflow(connection, record.id, item)]
        for workflow_id in outbox.finished:
            await repository.finish_workflow(connection, workflow_id)
        await insert_entries(connection, outbox.entries)

    async def load(self, order_id: str) -> OrderRecord:
        """The order as it is now, unlocked (a workflow reads, calls, then changes under the lock)."""
        async with self.database.connection() as connection:
            return await repository.load_any(connection, order_id, lock=False)

    async def finish_only(self, order_id: str, workflow_id: str) -> None:
        """Mark the workflow done without changing the order (there was nothing left to do)."""
        async with self.change(order_id) as outbox:
            outbox.finish(workflow_id)
            outbox.changed = False

    async def enqueue(self, items: list[Enqueue]) -> None:
        for item in items:
            try:
                await self.workflows.enqueue(item)
            except Exception:  # the relay enqueues it from order_workflows
                log.warning("order_workflow_enqueue_failed", workflow_id=item.workflow_id, exc_info=True)

    async def ensure_chart(self, merchant_id: str, currency: str) -> None:
        await self.payments.ensure_chart(merchant_id, currency)
