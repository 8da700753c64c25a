"""`run_demo`: start the database, a merchant and an API server, run the planned batch of
payments through the HTTP API with bounded concurrency, and report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from basketpay.db.engine import create_sync_engine
from basketpay.db.migrate import migrate
from basketpay.demo.client import DemoClient, ScenarioFailed
from basketpay.demo.plan import PlannedPayment, build_plan
from basketpay.demo.report import Tally, print_report
from basketpay.demo.scenarios import SCENARIOS
from basketpay.merchants.service import create_merchant
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from basketpay.settings import Settings, get_settings

REQUEST_TIMEOUT_SECONDS = 30.0
EXIT_OK = 0
EXIT_UNEXPECTED = 1


class StartupFailed(Exception):
    """The database, the merchant or the API server could not be set up."""


def run_demo(payments: int, concurrency: int, connector: str = "sandbox") -> int:
    """Run `payments` payments with `concurrency` workers; 0 if every scenario behaved as expected.
    connector "stripe": through the Stripe connector, against `basketpay sim` started for the run."""
    console = Console()
    try:
        with demo_server(console, connector) as (server, secret_key):
            plan = build_plan(payments)
            tally, client, elapsed_seconds = asyncio.run(
                run_batch(server.base_url, secret_key, plan, concurrency, console)
            )
    except StartupFailed as error:
        console.print(f"[red]The demo could not start:[/red] {error}", highlight=False)
        return EXIT_UNEXPECTED
    print_report(console, tally, client.latencies_ms, elapsed_seconds)
    return EXIT_UNEXPECTED if tally.failures else EXIT_OK


@contextmanager
def demo_server(console: Console, connector: str = "sandbox") -> Iterator[tuple[ServerProcess, str]]:
    """A migrated database, a new `demo` merchant's secret key, and an API server (and, for
    the Stripe connector, the sandbox processors) stopped however the batch ends."""
    settings = get_settings()
    server: ServerProcess | None = None
    sandboxes: SandboxProcesses | None = None
    try:
        with console.status("Starting PostgreSQL and the API server…"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            url = migrate(settings)
            secret_key = demo_merchant_key(settings)
            env = {"BASKETPAY_LOG_LEVEL": "WARNING", "BASKETPAY_DATA_DIR": str(settings.data_dir)}
            if connector == "stripe":
                sandboxes = SandboxProcesses().start()
                env.update({"BASKETPAY_DEFAULT_CONNECTOR": "stripe", "BASKETPAY_STRIPE_SECRET_KEY": "sk_test_demo",
                            "BASKETPAY_STRIPE_API_BASE": sandboxes.urls["stripe"],
                            "BASKETPAY_STRIPE_SEARCH_GRACE_SECONDS": "0"})
            server = ServerProcess(url, env=env, log_path=settings.data_dir / "demo-server.log")
            server.start()
    except (OSError, RuntimeError, SQLAlchemyError) as error:
        for process in (server, sandboxes):
            if process is not None:
                process.stop()
        raise StartupFailed(f"{type(error).__name__}: {error}") from error
    database = make_url(url).render_as_string(hide_password=True)
    console.print(f"Database: {database}", highlight=False, soft_wrap=True)
    console.print(f"API server: {server.base_url} (log in {server.log_path})", highlight=False, soft_wrap=True)
    if sandboxes is not None:
        console.print(f"Processor: the Stripe connector → {sandboxes.urls['stripe']}", highlight=False)
    try:
        yield server, secret_key
    finally:
        server.stop()
        if sandboxes is not None:
            sandboxes.stop()


def demo_merchant_key(settings: Settings) -> str:
    engine = create_sync_engine(settings)
    try:
        with engine.begin() as connection:
            return create_merchant(connection, "demo").secret_key
    finally:
        engine.dispose()


async def run_batch(
    base_url: str, secret_key: str, plan: list[PlannedPayment], concurrency: int, console: Console
) -> tuple[Tally, DemoClient, float]:
    # Each worker takes the next payment when its last one is done: at most `concurrency`
    # payments are in flight, however large the batch.
    queue: asyncio.Queue[PlannedPayment] = asyncio.Queue(maxsize=len(plan))
    for payment in plan:
        queue.put_nowait(payment)
    tally = Tally()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {secret_key}"}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
    ) as http:
        client = DemoClient(http)
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("Payments", total=len(plan))
            started = time.perf_counter()

            async def worker() -> None:
                while not queue.empty():
                    await run_one(client, queue.get_nowait(), tally)
                    failed = len(tally.failures)
                    description = f"Payments ({failed} failed)" if failed else "Payments"
                    progress.update(task, advance=1, description=description)

            await asyncio.gather(*(worker() for _ in range(min(concurrency, len(plan)))))
            elapsed_seconds = time.perf_counter() - started
    return tally, client, elapsed_seconds


async def run_one(client: DemoClient, payment: PlannedPayment, tally: Tally) -> None:
    try:
        result = await SCENARIOS[payment.scenario](client, payment)
    # Anything a scenario runs into (a wrong status, a timeout, a malformed body) is that
    # scenario's failure to report; it must not stop the other payments in the batch.
    except Exception as error:
        reason = str(error) if isinstance(error, ScenarioFailed) else f"{type(error).__name__}: {error}"
        tally.fail(payment.scenario, payment.index, reason)
        return
    tally.record(result)
