"""Events, written in the same transaction as the change they describe; consumers come later."""

from sqlalchemy import Column, DateTime, ForeignKey, Index, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB

from basketpay.db.metadata import created_at_column, metadata, sequence_column

events = Table(
    "events",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("type", Text, nullable=False),
    Column("object_id", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    created_at_column(),
    Column("published_at", DateTime(timezone=True)),
    Index("ix_events_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
    Index("ix_events_merchant_seq", "merchant_id", "seq"),
)
