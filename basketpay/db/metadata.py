"""The one SQLAlchemy `MetaData` every business area's tables register on."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, func

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def created_at_column() -> Column[dt.datetime]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def sequence_column() -> Column[int]:
    """A per-table insertion order: list endpoints page on it (newest first)."""
    return Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True)


def import_all_tables() -> MetaData:
    """Import every area's table module so `metadata` is complete (Alembic, tests)."""
    from basketpay.audit import tables as _audit  # noqa: F401
    from basketpay.connectors.sandbox import tables as _sandbox  # noqa: F401
    from basketpay.idempotency import tables as _idempotency  # noqa: F401
    from basketpay.ledger import tables as _ledger  # noqa: F401
    from basketpay.merchants import tables as _merchants  # noqa: F401
    from basketpay.orders import tables as _orders  # noqa: F401
    from basketpay.outbox import tables as _outbox  # noqa: F401
    from basketpay.payments import tables as _payments  # noqa: F401
    from basketpay.processor_events import tables as _processor_events  # noqa: F401
    from basketpay.reconciliation import tables as _reconciliation  # noqa: F401
    from basketpay.routing import tables as _routing  # noqa: F401
    from basketpay.routing.experiments import tables as _experiments  # noqa: F401
    from basketpay.vault import tables as _vault  # noqa: F401
    from basketpay.webhooks import tables as _webhooks  # noqa: F401

    return metadata
