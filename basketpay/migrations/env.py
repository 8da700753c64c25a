"""Alembic environment: one transaction per migration, with statement and lock timeouts
so a migration never queues behind (or blocks) live traffic for long."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from basketpay.db.metadata import import_all_tables

STATEMENT_TIMEOUT_MS = 60_000
LOCK_TIMEOUT_MS = 5_000
MIGRATION_LOCK_ID = 7274820291

config = context.config
target_metadata = import_all_tables()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        connection.execute(text(f"SET lock_timeout = {LOCK_TIMEOUT_MS}"))
        connection.commit()
        # Serialize concurrent `migrate` runs (several processes starting at once).
        connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK_ID})"))
        connection.commit()
        try:
            context.configure(
                connection=connection, target_metadata=target_metadata, transaction_per_migration=True
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})"))
            connection.commit()


run_migrations_online()
