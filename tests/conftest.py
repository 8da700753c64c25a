"""Shared fixtures: a fresh PostgreSQL database per test session (the configured server,
or the embedded one), an API server process against it, and a new merchant per test,
so tests never see each other's objects."""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from basketpay.db.embedded import embedded_database_url
from basketpay.db.migrate import migrate
from basketpay.ledger.check import check_ledger
from basketpay.merchants.service import create_merchant
from basketpay.server import ServerProcess
from basketpay.settings import Settings

TEST_KEK = base64.b64encode(b"k" * 32).decode()
# A task taking a second pool connection while it holds one is a deadlock under load: refused
# in every test, in this process and in the servers and workers the tests start.
os.environ.setdefault("BASKETPAY_DATABASE_NESTED_CONNECTIONS", "error")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("basketpay-data")


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    """A database created for this session and dropped after it."""
    name = f"basketpay_test_{uuid.uuid4().hex[:10]}"
    configured = os.environ.get("BASKETPAY_DATABASE_URL")
    if configured:
        admin_url = make_url(configured).set(drivername="postgresql+psycopg")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.set(database=name).render_as_string(hide_password=False)
    else:
        admin = None
        url = embedded_database_url(Path(os.environ.get("BASKETPAY_TEST_PGDATA", data_dir)), name)
    migrate(Settings(database_url=url, data_dir=data_dir))
    yield url
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir, vault_key_encryption_key=TEST_KEK)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "BASKETPAY_DATA_DIR": str(data_dir),
        "BASKETPAY_VAULT_KEY_ENCRYPTION_KEY": TEST_KEK,
        "BASKETPAY_LOG_LEVEL": "INFO",
        # Outbound webhooks: sent within 0.1 s, retried after ~1 ms, 60 ms, ... instead of 5 s, 5 min, ...
        "BASKETPAY_WEBHOOK_DELIVERY_INTERVAL_SECONDS": "0.1", "BASKETPAY_WEBHOOK_RETRY_SCHEDULE_SCALE": "0.0002",
        **extra,
    }


@pytest.fixture(scope="session")
def server_log(data_dir: Path) -> Path:
    return data_dir / "server.log"


@pytest.fixture(scope="session")
def server(database_url: str, data_dir: Path, server_log: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url, env=server_env(data_dir), log_path=server_log).start()
    yield process
    process.stop()


@pytest.fixture()
def merchant(engine: Engine) -> tuple[str, str]:
    with engine.begin() as connection:
        created = create_merchant(connection, f"test-{secrets.token_hex(4)}")
    return created.merchant_id, created.secret_key


@pytest.fixture()
def client(server: ServerProcess, merchant: tuple[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {merchant[1]}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30.0) as http:
        yield http


@pytest.fixture(autouse=True)
def books_balance(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that touched the database: `basketpay ledger check` finds nothing."""
    engine: Engine | None = request.getfixturevalue("engine") if "database_url" in request.fixturenames else None
    yield
    if engine is None:
        return
    with engine.connect() as connection:
        report = check_ledger(connection)
    assert report.ok, f"the ledger check failed after this test: {report.violations}"


# A database of the test module's own, for tests that leave state others must not meet
# (attempts pending on purpose) or that need the whole database to themselves.
@pytest.fixture(scope="module")
def own_database_url(database_url: str, settings: Settings) -> Iterator[str]:
    """A fresh, migrated database on the session's server, dropped afterwards."""
    name = f"basketpay_own_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    migrate(settings.model_copy(update={"database_url": url}))
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def own_settings(own_database_url: str, settings: Settings) -> Settings:
    return settings.model_copy(update={"database_url": own_database_url})


@pytest.fixture(scope="module")
def own_engine(own_database_url: str) -> Iterator[Engine]:
    engine = create_engine(own_database_url)
    yield engine
    engine.dispose()
