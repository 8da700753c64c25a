"""Order payments: one row per order holding its basket and its tenders' state as
documents (every change to an order locks that one row), the item events applied to it
(so a repeated event is a no-op), and the merchant's order policy."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from basketpay.db.metadata import created_at_column, metadata, sequence_column

ORDER_STATUSES = ("authorizing", "authorized", "requires_customer_action", "delivering", "delivered", "completed",
                  "canceling", "canceled", "failed")

orders = Table(
    "orders",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("customer", Text),
    Column("document", JSONB, nullable=False),  # basket, tenders, policy, captures, refunds, tip (orders/record.py)
    Column("version", Integer, nullable=False, server_default="0"),
    Column("scheduled_for", DateTime(timezone=True)),
    created_at_column(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("status IN (" + ", ".join(f"'{status}'" for status in ORDER_STATUSES) + ")", name="status"),
    Index("ix_orders_merchant_seq", "merchant_id", "seq"),
    Index("ix_orders_authorizing", "updated_at", postgresql_where=text("status = 'authorizing'")),
)

order_workflows = Table(
    "order_workflows",
    metadata,
    # The order's milestone workflows, written in the same transaction as the change that calls
    # for them (an outbox): the API enqueues after its commit, and the relay enqueues again any
    # that a crash left unstarted, or that failed for good (with a new DBOS id: `dbos_id`).
    Column("id", Text, primary_key=True),  # order:{order}:{milestone}[:{n}]
    Column("order_id", Text, ForeignKey("orders.id"), nullable=False),
    Column("milestone", Text, nullable=False),
    Column("argument", Text),
    Column("dbos_id", Text, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    created_at_column(),
    Index("ix_order_workflows_open", "due_at", postgresql_where=text("finished_at IS NULL")),
    Index("ix_order_workflows_order", "order_id"),
)

order_events = Table(
    "order_events",
    metadata,
    Column("order_id", Text, ForeignKey("orders.id"), nullable=False),
    Column("event_id", Text, nullable=False),  # the caller's id: the same id again is a no-op
    Column("digest", Text, nullable=False),  # of the event's content: the same id with other content is refused
    Column("kind", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    created_at_column(),
    PrimaryKeyConstraint("order_id", "event_id"),
)

merchant_order_policies = Table(
    "merchant_order_policies",
    metadata,
    Column("merchant_id", Text, ForeignKey("merchants.id"), primary_key=True),
    Column("policy", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
