"""`run_demo`: start the database, a merchant, the sandbox processors and an API server with
an order-workflow worker; run the planned batch of payments, then a batch of grocery orders,
through the HTTP API with bounded concurrency, then the day's reconciliation against the
Stripe sandbox's settlement files (settlement.py), and report each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TypeVar

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
from basketpay.demo.client import DemoClient, failure_reason
from basketpay.demo.orders import ORDER_POLICY, PlannedOrder, ebt_sandbox, plan_orders, run_order
from basketpay.demo.plan import PlannedPayment, build_plan
from basketpay.demo.report import OrderTally, Tally, print_orders_report, print_report
from basketpay.demo.scenarios import SCENARIOS
from basketpay.demo.settlement import reconcile_the_day
from basketpay.merchants.service import create_merchant
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from basketpay.settings import Settings, get_settings

REQUEST_TIMEOUT_SECONDS = 30.0
EXIT_OK = 0
EXIT_UNEXPECTED = 1
Job = TypeVar("Job")


class StartupFailed(Exception):
    """The database, the merchant, the sandboxes or the API server could not be set up."""


@dataclass(frozen=True, slots=True)
class DemoStack:
    server: ServerProcess
    secret_key: str  # the demo merchant's
    ebt_url: str  # the SNAP EBT sandbox
    stripe_url: str  # the Stripe-compatible sandbox (settlement files)


def run_demo(payments: int, concurrency: int, connector: str = "sandbox", orders: int = 0) -> int:
    """Run `payments` payments, then `orders` grocery orders (0: none), `concurrency` at a time;
    0 if every scenario behaved as expected. connector "stripe": cards go through the Stripe
    connector, against the sandbox started for the run."""
    console = Console()
    try:
        with demo_server(console, connector) as stack:
            tally, client, elapsed_seconds = asyncio.run(run_batch(stack, build_plan(payments), concurrency, console))
            print_report(console, tally, client.latencies_ms, elapsed_seconds)
            failures = len(tally.failures)
            if orders:
                order_tally, elapsed_seconds = asyncio.run(run_orders(stack, plan_orders(orders), concurrency, console))
                print_orders_report(console, order_tally, elapsed_seconds)
                failures += len(order_tally.failures)
            failures += asyncio.run(run_settlement(stack, connector, console))
    except StartupFailed as error:
        console.print(f"[red]The demo could not start:[/red] {error}", highlight=False)
        return EXIT_UNEXPECTED
    return EXIT_UNEXPECTED if failures else EXIT_OK


@contextmanager
def demo_server(console: Console, connector: str = "sandbox") -> Iterator[DemoStack]:
    """A migrated database, a new `demo` merchant, the sandbox processors and an API server
    running an order-workflow worker, stopped however the batches end."""
    settings = get_settings()
    server: ServerProcess | None = None
    sandboxes: SandboxProcesses | None = None
    try:
        with console.status("Starting PostgreSQL, the sandboxes and the API server…"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            url = migrate(settings)
            secret_key = demo_merchant_key(settings)
            sandboxes = SandboxProcesses(["--settlement-dir", str(settings.data_dir / "demo-settlement")]).start()
            server = ServerProcess(url, env=server_env(settings, connector, sandboxes.urls), worker=True,
                                   log_path=settings.data_dir / "demo-server.log")
            server.start()
            set_order_policy(server.base_url, secret_key)
    except (OSError, RuntimeError, SQLAlchemyError, httpx.HTTPError) as error:
        for process in (server, sandboxes):
            if process is not None:
                process.stop()
        raise StartupFailed(f"{type(error).__name__}: {error}") from error
    database = make_url(url).render_as_string(hide_password=True)
    console.print(f"Database: {database}", highlight=False, soft_wrap=True)
    console.print(f"API server: {server.base_url} (log in {server.log_path})", highlight=False, soft_wrap=True)
    if connector == "stripe":
        console.print(f"Processor: the Stripe connector → {sandboxes.urls['stripe']}", highlight=False)
    console.print(f"SNAP EBT: the EBT sandbox → {sandboxes.urls['ebt']}", highlight=False)
    try:
        yield DemoStack(server, secret_key, sandboxes.urls["ebt"], sandboxes.urls["stripe"])
    finally:
        server.stop()
        sandboxes.stop()


def server_env(settings: Settings, connector: str, sandbox_urls: dict[str, str]) -> dict[str, str]:
    env = {"BASKETPAY_LOG_LEVEL": "WARNING", "BASKETPAY_DATA_DIR": str(settings.data_dir),
           "BASKETPAY_EBT_API_BASE": sandbox_urls["ebt"],
           # The worker looks for order workflows this often: a delivery is captured within 50 ms.
           "BASKETPAY_WORKFLOW_POLL_INTERVAL_SECONDS": "0.05",
           # The Stripe connector is there for routing (the reconciliation step), the default with --connector stripe.
           "BASKETPAY_STRIPE_SECRET_KEY": "sk_test_demo", "BASKETPAY_STRIPE_API_BASE": sandbox_urls["stripe"],
           "BASKETPAY_STRIPE_SEARCH_GRACE_SECONDS": "0"}
    if connector == "stripe":
        env["BASKETPAY_DEFAULT_CONNECTOR"] = "stripe"
    return env


def set_order_policy(base_url: str, secret_key: str) -> None:
    response = httpx.post(f"{base_url}/v1/order_policy", json=ORDER_POLICY, timeout=REQUEST_TIMEOUT_SECONDS,
                          headers={"Authorization": f"Bearer {secret_key}"})
    if response.status_code != 200:
        raise RuntimeError(f"setting the order policy: HTTP {response.status_code}: {response.text[:200]}")


def demo_merchant_key(settings: Settings) -> str:
    engine = create_sync_engine(settings)
    try:
        with engine.begin() as connection:
            return create_merchant(connection, "demo").secret_key
    finally:
        engine.dispose()


@asynccontextmanager
async def api_client(stack: DemoStack, concurrency: int) -> AsyncIterator[DemoClient]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {stack.secret_key}"}
    async with httpx.AsyncClient(
        base_url=stack.server.base_url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
    ) as http:
        yield DemoClient(http)


async def drain(jobs: list[Job], concurrency: int, run: Callable[[Job], Awaitable[None]], label: str,
                failed: Callable[[], int], console: Console) -> float:
    """Run every job with a progress bar; the seconds it took. Each worker takes the next job
    when its last one is done: at most `concurrency` are in flight, however many there are."""
    queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=len(jobs))
    for job in jobs:
        queue.put_nowait(job)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=len(jobs))
        started = time.perf_counter()

        async def worker() -> None:
            while not queue.empty():
                await run(queue.get_nowait())
                count = failed()
                progress.update(task, advance=1, description=f"{label} ({count} failed)" if count else label)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))
        return time.perf_counter() - started


async def run_batch(
    stack: DemoStack, plan: list[PlannedPayment], concurrency: int, console: Console
) -> tuple[Tally, DemoClient, float]:
    tally = Tally()
    async with api_client(stack, concurrency) as client:
        elapsed_seconds = await drain(plan, concurrency, lambda payment: run_one(client, payment, tally), "Payments",
                                      lambda: len(tally.failures), console)
    return tally, client, elapsed_seconds


async def run_settlement(stack: DemoStack, connector: str, console: Console) -> int:
    async with api_client(stack, 1) as client:
        return await reconcile_the_day(client, stack.stripe_url, connector, console)


async def run_one(client: DemoClient, payment: PlannedPayment, tally: Tally) -> None:
    try:
        result = await SCENARIOS[payment.scenario](client, payment)
    # Anything a scenario runs into (a wrong status, a timeout, a malformed body) is that
    # scenario's failure to report; it must not stop the other payments in the batch.
    except Exception as error:
        tally.fail(payment.scenario, payment.index, failure_reason(error))
        return
    tally.record(result)


async def run_orders(
    stack: DemoStack, plan: list[PlannedOrder], concurrency: int, console: Console
) -> tuple[OrderTally, float]:
    tally = OrderTally()
    async with api_client(stack, concurrency) as client, ebt_sandbox(stack.ebt_url, REQUEST_TIMEOUT_SECONDS) as ebt:
        elapsed_seconds = await drain(plan, concurrency, lambda order: run_order(client, ebt, order, tally), "Orders",
                                      lambda: len(tally.failures), console)
    return tally, elapsed_seconds
