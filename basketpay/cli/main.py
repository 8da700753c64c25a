"""`basketpay`: serve, migrate, merchant create, sweep and demo.

Every command honours BASKETPAY_DATABASE_URL and otherwise starts (or joins) the
embedded PostgreSQL in the data directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os

import typer

from basketpay.cli.simulate import simulate_app
from basketpay.ledger.cli import ledger_app
from basketpay.reconciliation.cli import reconcile, reconciliation_app
from basketpay.reconciliation.pos.cli import pos_app
from basketpay.routing.experiments.cli import experiments_app
from basketpay.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
merchant_app = typer.Typer(no_args_is_help=True, help="Merchants and their secret keys.")
app.add_typer(merchant_app, name="merchant")
vault_app = typer.Typer(no_args_is_help=True, help="The card vault.")
app.add_typer(vault_app, name="vault")
app.add_typer(ledger_app, name="ledger")
app.add_typer(simulate_app, name="simulate")
app.add_typer(experiments_app, name="experiments")
app.add_typer(reconciliation_app, name="reconciliation")
app.command("reconcile")(reconcile)
app.add_typer(pos_app, name="pos-feed")


def _setup_logging() -> None:
    from basketpay.observability.logging import configure_logging

    configure_logging(get_settings().log_level)


@app.command()
def migrate() -> None:
    """Apply every database migration (idempotent)."""
    from basketpay.db.migrate import migrate as run

    _setup_logging()
    run(get_settings())
    typer.echo("database is at the latest migration")


@merchant_app.command("create")
def merchant_create(name: str, live: bool = typer.Option(False, help="Issue an sk_live_ key.")) -> None:
    """Create a merchant and a secret key; prints one JSON object. The key is shown only once."""
    from basketpay.db.engine import create_sync_engine
    from basketpay.db.migrate import migrate as run
    from basketpay.merchants.service import create_merchant

    _setup_logging()
    settings = get_settings()
    run(settings)
    engine = create_sync_engine(settings)
    with engine.begin() as connection:
        created = create_merchant(connection, name, livemode=live)
    engine.dispose()
    typer.echo(json.dumps({"merchant_id": created.merchant_id, "secret_key": created.secret_key}))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1, help="Server processes (metrics aggregate across them)."),
    sweeper: bool = typer.Option(True, help="Run the recovery sweeper in this process."),
    worker: bool = typer.Option(True, help="Run an order-workflow worker in this process (one server process only)."),
) -> None:
    """Run the HTTP API (migrating first)."""
    from basketpay.server import run_server

    _setup_logging()
    run_server(host, port, workers, sweeper, worker and workers == 1)


@app.command()
def worker(
    executor_id: str = typer.Option(None, help="This worker's executor id: unique per process, stable across "
                                               "restarts (default: BASKETPAY_WORKFLOW_EXECUTOR_ID or worker-<host>)."),
    concurrency: int = typer.Option(None, min=1, help="Order workflows at once (default from settings)."),
) -> None:
    """Run order workflows (DBOS) from the queue, and the relay that re-enqueues stale ones."""
    from basketpay.workflows.worker import serve_worker

    _setup_logging()
    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"workflow_concurrency": concurrency})
    serve_worker(settings, executor_id or settings.workflow_executor_id)


@app.command()
def sweep() -> None:
    """Resolve in-flight attempts once (the server also does this in the background)."""
    from basketpay.api.app import build_services
    from basketpay.payments.sweeper import Sweeper

    _setup_logging()

    async def once() -> None:
        container = await build_services(get_settings())
        try:
            report = await Sweeper(container.payments).sweep_once()
        finally:
            await container.database.close()
        typer.echo(json.dumps(dataclasses.asdict(report)))

    asyncio.run(once())


@vault_app.command("rotate-key")
def vault_rotate_key() -> None:
    """Make a new key-encryption key active and re-wrap every stored card's data key under it,
    while the service runs. Prints one JSON object."""
    import getpass

    from basketpay.db.database import Database
    from basketpay.db.migrate import migrate as run
    from basketpay.vault.keyring import Keyring
    from basketpay.vault.rotation import rotate_key

    _setup_logging()
    settings = get_settings()
    run(settings)

    async def rotate() -> dict[str, object]:
        database = await Database(settings).open()
        try:
            keyring = Keyring.from_settings(settings.vault_key_encryption_key, settings.data_dir)
            report = await rotate_key(database, keyring, actor=f"cli:{getpass.getuser()}")
        finally:
            await database.close()
        return dataclasses.asdict(report)

    typer.echo(json.dumps(asyncio.run(rotate())))


@app.command()
def sim(
    host: str = typer.Option("127.0.0.1"),
    stripe_port: int = typer.Option(0, help="0: any free port."),
    adyen_port: int = typer.Option(0, help="0: any free port."),
    ebt_port: int = typer.Option(0, help="The SNAP EBT sandbox's port; 0: any free port."),
    stripe_webhook_url: str | None = typer.Option(None, help="Where the Stripe sandbox sends events."),
    stripe_webhook_secret: str | None = typer.Option(None, envvar="BASKETPAY_SIM_STRIPE_WEBHOOK_SECRET"),
    adyen_webhook_url: str | None = typer.Option(None, help="Where the Adyen sandbox sends notifications."),
    adyen_hmac_key_hex: str | None = typer.Option(None, envvar="BASKETPAY_SIM_ADYEN_HMAC_KEY_HEX"),
    stripe_faults: str | None = typer.Option(
        None, envvar="BASKETPAY_SIM_STRIPE_FAULTS",
        help='JSON, e.g. {"error_rate": 0.05, "reply_lost_rate": 0.2, "latency_ms": 20, "seed": 1}; '
        "also settable live with POST /__sandbox/faults.",
    ),
    adyen_faults: str | None = typer.Option(
        None, envvar="BASKETPAY_SIM_ADYEN_FAULTS", help="JSON, as --stripe-faults, for the Adyen sandbox.",
    ),
    stripe_behaviour: str | None = typer.Option(
        None, envvar="BASKETPAY_SIM_STRIPE_BEHAVIOUR",
        help='JSON, e.g. {"approval_rate": 0.9, "soft_decline_rates": {"411111": 0.3}, "seed": 1}; '
        "also settable live with POST /__sandbox/behaviour.",
    ),
    adyen_behaviour: str | None = typer.Option(
        None, envvar="BASKETPAY_SIM_ADYEN_BEHAVIOUR", help="JSON, as --stripe-behaviour, for the Adyen sandbox.",
    ),
    settlement_dir: str | None = typer.Option(
        None, envvar="BASKETPAY_SIM_SETTLEMENT_DIR",
        help="Where POST /__sandbox/settlement?date=… writes each sandbox's settlement files for that day.",
    ),
) -> None:
    """Run the Stripe- and Adyen-compatible sandbox processors; prints one JSON line with
    their base URLs. Any sk_test_ key works with the Stripe one, any X-API-Key with Adyen's."""
    from basketpay.sandboxes.adyen_api import AdyenSandboxConfig
    from basketpay.sandboxes.runner import serve_sandboxes
    from basketpay.sandboxes.stripe_api import StripeSandboxConfig

    _setup_logging()
    def parsed(text: str | None) -> dict[str, object] | None:
        return json.loads(text) if text else None

    stripe = StripeSandboxConfig(
        webhook_url=stripe_webhook_url, webhook_secret=stripe_webhook_secret,
        faults=parsed(stripe_faults), behaviour=parsed(stripe_behaviour), settlement_dir=settlement_dir,
    )
    adyen = AdyenSandboxConfig(
        webhook_url=adyen_webhook_url, faults=parsed(adyen_faults), behaviour=parsed(adyen_behaviour),
        settlement_dir=settlement_dir,
    )
    if adyen_hmac_key_hex:
        adyen = dataclasses.replace(adyen, hmac_key_hex=adyen_hmac_key_hex)
    asyncio.run(serve_sandboxes(host, stripe_port, adyen_port, stripe, adyen, ebt_port))


@app.command()
def demo(
    payments: int = typer.Option(120, min=10, help="How many payments to run."),
    concurrency: int = typer.Option(8, min=1, max=64),
    connector: str = typer.Option("sandbox", help="sandbox (in process) or stripe (the Stripe connector against basketpay sim)."),
    orders: int = typer.Option(12, min=0, max=1000, help="How many grocery orders to run after the payments (0: none)."),
) -> None:
    """Start everything needed and run a realistic batch of payments, then of grocery orders
    (split tenders, substitutions, tips, refunds, cancellations), through the HTTP API."""
    from basketpay.demo.run import run_demo

    if connector not in ("sandbox", "stripe"):
        raise typer.BadParameter("choose sandbox or stripe", param_hint="--connector")
    os.environ.setdefault("BASKETPAY_LOG_LEVEL", "WARNING")
    raise typer.Exit(run_demo(payments, concurrency, connector, orders))


if __name__ == "__main__":
    app()
