"""Merchants and API keys. Keys are stored as SHA-256 digests, never in clear."""

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, LargeBinary, Table, Text

from basketpay.db.metadata import created_at_column, metadata

merchants = Table(
    "merchants",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    created_at_column(),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("key_digest", LargeBinary, nullable=False, unique=True),
    Column("key_prefix", Text, nullable=False),
    Column("key_last4", Text, nullable=False),
    Column("livemode", Boolean, nullable=False),
    created_at_column(),
    Column("revoked_at", DateTime(timezone=True)),
)
