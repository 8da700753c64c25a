"""The yardstick: pgbench's builtin TPC-B-like workload on the API's PostgreSQL server.

It runs in a database of its own (`basketpay_pgbench`) on the same server, so the
API's figure can be read as a fraction of what that server does for a small
write transaction.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from basketpay.db.engine import libpq_url

PGBENCH_DATABASE = "basketpay_pgbench"
PGBENCH_SCALE = 10
PGBENCH_THREADS_MAX = 2
PGBENCH_INIT_TIMEOUT_SECONDS = 600
PGBENCH_LOCK_TIMEOUT_SECONDS = 600  # another benchmark run's pgbench phase
PGBENCH_RUN_TIMEOUT_SECONDS_EXTRA = 60
TPS_PATTERN = re.compile(
    r"^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)",
    re.MULTILINE,
)


def pgbench_binary(data_dir: Path) -> str:
    """The embedded server's pgbench (PostgreSQL 16), else the one on PATH."""
    try:
        from basketpay.db.embedded import embedded_bin_dir

        embedded = embedded_bin_dir(data_dir) / "pgbench"
        if embedded.exists():
            return str(embedded)
    except ImportError:
        pass
    found = shutil.which("pgbench")
    if found is None:
        raise RuntimeError("pgbench not found: neither in the pgserver package nor on PATH")
    return found


def conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pgbench_connection(sqlalchemy_url: str) -> tuple[str, dict[str, str]]:
    """A libpq conninfo for the pgbench database, and the environment with the password.

    The password goes in PGPASSWORD rather than on the command line, where `ps` shows it.
    A unix-socket URL keeps its socket folder in the query (`?host=/path/to/pgdata`).
    """
    url = make_url(libpq_url(sqlalchemy_url))
    parameters: dict[str, str] = {"dbname": PGBENCH_DATABASE}
    if url.host:
        parameters["host"] = url.host
    if url.port:
        parameters["port"] = str(url.port)
    if url.username:
        parameters["user"] = url.username
    for name, value in url.query.items():
        parameters[name] = value if isinstance(value, str) else value[-1]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    conninfo = " ".join(f"{name}={conninfo_value(value)}" for name, value in parameters.items())
    return conninfo, env


@contextmanager
def exclusive_database(sqlalchemy_url: str) -> Iterator[None]:
    """Create the pgbench database if missing, and hold a lock on it for the block.

    Two benchmark runs against one server would otherwise drop each other's tables
    (`pgbench -i`) mid-run; with the lock, the second waits for the first.
    """
    engine = create_engine(sqlalchemy_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text(f"SET lock_timeout = '{PGBENCH_LOCK_TIMEOUT_SECONDS}s'"))
            connection.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": PGBENCH_DATABASE})
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": PGBENCH_DATABASE}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{PGBENCH_DATABASE}"'))
            yield  # the session lock goes with the connection
    finally:
        engine.dispose()


def run_command(arguments: list[str], env: dict[str, str], timeout_seconds: float) -> str:
    completed = subprocess.run(
        arguments, env=env, capture_output=True, text=True, timeout=timeout_seconds, check=False
    )
    if completed.returncode != 0:
        command = " ".join(arguments[:2])
        raise RuntimeError(f"{command} … failed ({completed.returncode}): {completed.stderr.strip()}")
    return completed.stdout + completed.stderr


def run_pgbench(sqlalchemy_url: str, data_dir: Path, clients: int, duration_seconds: int) -> float:
    """Initialise the pgbench tables afresh, run tpcb-like, return its TPS without connection time."""
    binary = pgbench_binary(data_dir)
    conninfo, env = pgbench_connection(sqlalchemy_url)
    threads = min(PGBENCH_THREADS_MAX, clients)
    with exclusive_database(sqlalchemy_url):
        run_command([binary, "-i", "-s", str(PGBENCH_SCALE), "-q", conninfo], env, PGBENCH_INIT_TIMEOUT_SECONDS)
        output = run_command(
            [binary, "-c", str(clients), "-j", str(threads), "-T", str(duration_seconds), "-n", conninfo],
            env, duration_seconds + PGBENCH_RUN_TIMEOUT_SECONDS_EXTRA,
        )
    match = TPS_PATTERN.search(output)
    if match is None:
        raise RuntimeError(f"no 'tps = …' line in pgbench's output:\n{output}")
    return float(match.group(1))
