"""The sandbox processor's own books. basketpay's code never reads these: only the
sandbox does, as a real processor's database would be out of reach."""

from sqlalchemy import BigInteger, Column, DateTime, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from basketpay.db.metadata import created_at_column, metadata

sandbox_charges = Table(
    "sandbox_charges",
    metadata,
    Column("id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("card_last4", Text, nullable=False),
    Column("amount_authorized", BigInteger, nullable=False),
    Column("amount_captured", BigInteger, nullable=False),
    Column("amount_refunded", BigInteger, nullable=False),
    Column("merchant_reference", Text, nullable=False),
    created_at_column(),
    Column("updated_at", DateTime(timezone=True)),
)

sandbox_operations = Table(
    "sandbox_operations",
    metadata,
    Column("idempotency_key", Text, primary_key=True),
    Column("operation", Text, nullable=False),
    Column("charge_id", Text),
    Column("result", JSONB, nullable=False),
    created_at_column(),
)
