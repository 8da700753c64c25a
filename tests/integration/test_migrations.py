"""The models and the migrations agree: a migrated database has nothing left to autogenerate."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from basketpay.db.metadata import import_all_tables


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), import_all_tables())
    assert differences == []
