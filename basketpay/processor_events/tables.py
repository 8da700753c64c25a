"""One row per processor event ever accepted: the dedupe key for at-least-once delivery."""

from sqlalchemy import BigInteger, Column, DateTime, Identity, Table, Text, UniqueConstraint

from basketpay.db.metadata import metadata

processor_events = Table(
    "processor_events",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("connector", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("object_id", Text),
    Column("payment_intent_id", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("outcome", Text, nullable=False),
    UniqueConstraint("connector", "event_id"),
)
