"""Where the database is (configured or embedded), and a SQLAlchemy engine for migrations,
the CLI and the tests. The service itself talks to PostgreSQL through db/database.py."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from basketpay.db.embedded import embedded_database_url
from basketpay.settings import Settings

_resolved: dict[str | None, str] = {}


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL: the configured one (driver forced to psycopg 3) or the embedded one."""
    if settings.database_url in _resolved:
        return _resolved[settings.database_url]
    if settings.database_url:
        url = make_url(settings.database_url).set(drivername="postgresql+psycopg")
        resolved = url.render_as_string(hide_password=False)
    else:
        resolved = embedded_database_url(settings.data_dir)
    _resolved[settings.database_url] = resolved
    return resolved


def libpq_url(sqlalchemy_url: str) -> str:
    """The same database as a plain libpq URL, for psql and pgbench."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_sync_engine(settings: Settings) -> Engine:
    return create_engine(database_url(settings), pool_pre_ping=True)
