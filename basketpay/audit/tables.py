"""Audit entries are append-only: the service inserts them and never updates or deletes."""

from sqlalchemy import BigInteger, Column, Identity, Index, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from basketpay.db.metadata import created_at_column, metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    created_at_column(),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("object_id", Text),
    Column("outcome", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("detail", JSONB, nullable=False),
    Index("ix_audit_log_object_id", "object_id"),
    Index("ix_audit_log_created_at", "created_at"),
)
