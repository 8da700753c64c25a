"""Running Alembic migrations programmatically (the CLI, the demo and the tests use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from basketpay.db.engine import database_url
from basketpay.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(settings: Settings, revision: str = "head") -> str:
    """basketpay's tables (Alembic), then DBOS's system tables (schema `dbos`, its own migrations)."""
    from basketpay.workflows.runtime import migrate_system_database

    url = database_url(settings)
    command.upgrade(alembic_config(url), revision)
    if revision == "head":
        migrate_system_database(settings.model_copy(update={"database_url": url}))
    return url
