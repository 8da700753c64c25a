"""Payment methods. The card number is only ever stored as AES-GCM ciphertext."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
)

from basketpay.db.metadata import created_at_column, metadata, sequence_column

payment_methods = Table(
    "payment_methods",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("type", Text, nullable=False),
    Column("brand", Text, nullable=False),
    Column("bin", Text, nullable=False),
    Column("last4", Text, nullable=False),
    Column("exp_month", Integer, nullable=False),
    Column("exp_year", Integer, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("wrapped_data_key", LargeBinary, nullable=False),
    Column("card_ciphertext", LargeBinary, nullable=False),
    created_at_column(),
    CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month_range"),
    Index("ix_payment_methods_merchant_seq", "merchant_id", "seq"),
)
