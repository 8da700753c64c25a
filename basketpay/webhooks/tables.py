"""Outbound webhooks: the merchants' endpoints, one delivery per (endpoint, event), and
every attempt at it (the delivery log)."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from basketpay.db.metadata import created_at_column, metadata, sequence_column

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("description", Text),
    Column("enabled_events", ARRAY(Text), nullable=False),  # event types, or ['*']
    Column("status", Text, nullable=False, server_default="enabled"),
    Column("secret", Text, nullable=False),  # whsec_…: needed to sign; never logged or shown again
    Column("previous_secret", Text),  # still signed with during a rotation's overlap
    Column("previous_secret_expires_at", DateTime(timezone=True)),
    created_at_column(),
    CheckConstraint("status IN ('enabled', 'disabled')", name="status"),
    Index("ix_webhook_endpoints_merchant_seq", "merchant_id", "seq"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("endpoint_id", Text, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", Text, ForeignKey("events.id"), nullable=False),  # the webhook-id, the same on every retry
    Column("status", Text, nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    created_at_column(),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    UniqueConstraint("endpoint_id", "event_id"),
    Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("ix_webhook_deliveries_endpoint_seq", "endpoint_id", "seq"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("delivery_id", Text, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("latency_ms", Integer, nullable=False),
    created_at_column(),
    Index("ix_webhook_attempts_delivery_id", "delivery_id"),
)
