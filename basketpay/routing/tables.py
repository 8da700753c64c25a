"""Each merchant's routing configuration, versioned: every change is a new row (the latest
is in force), so what routed a payment last Tuesday can always be read back; who changed
what is in the audit log."""

from sqlalchemy import Column, ForeignKey, Index, Integer, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB

from basketpay.db.metadata import created_at_column, metadata, sequence_column

routing_configs = Table(
    "routing_configs",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("config", JSONB, nullable=False),
    Column("note", Text),
    created_at_column(),
    UniqueConstraint("merchant_id", "version"),
    Index("ix_routing_configs_merchant_seq", "merchant_id", "seq"),
)
