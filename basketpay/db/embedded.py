"""The embedded PostgreSQL (the `pgserver` package) used when no database URL is configured.

It lives in a folder of its own under the data directory, so a fresh machine with
nothing but Python runs the demo and the tests against a real PostgreSQL 16.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog

log = structlog.get_logger(__name__)

DATABASE_NAME = "basketpay"
_servers: dict[Path, Any] = {}


def embedded_server(data_dir: Path) -> Any:
    import pgserver  # imported lazily: only needed when no database is configured

    pgdata = (data_dir / "pgdata").resolve()
    if pgdata not in _servers:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        get_server = getattr(pgserver, "get_server")  # noqa: B009 - the package does not declare __all__
        _servers[pgdata] = get_server(pgdata, cleanup_mode="stop")
        log.info("embedded_postgres_started", pgdata=str(pgdata))
    return _servers[pgdata]


def embedded_database_url(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded server, make sure `database` exists, return its URL."""
    server = embedded_server(data_dir)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    socket_dir = quote(str(server.pgdata), safe="")
    return f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"


def embedded_bin_dir(data_dir: Path) -> Path:
    """The folder with the embedded server's client programs (psql, pgbench)."""
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"
