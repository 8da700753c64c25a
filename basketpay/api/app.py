"""The FastAPI application: wiring the services, the routes, the docs and the sweeper."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from sqlalchemy.engine import make_url

from basketpay import __version__
from basketpay.api.dependencies import Services
from basketpay.api.errors import install_error_handlers
from basketpay.api.middleware import RequestContextMiddleware
from basketpay.api.ratelimit_redis import open_limiter
from basketpay.connectors.ebt.client import EbtClient
from basketpay.connectors.registry import build_registry
from basketpay.db.database import Database
from basketpay.db.engine import database_url
from basketpay.ledger import api as ledger_api
from basketpay.ledger.service import LedgerService
from basketpay.merchants.service import Authenticator
from basketpay.observability.metrics import render_metrics
from basketpay.orders import api as orders_api
from basketpay.orders.engine import OrderEngine
from basketpay.orders.service import OrderService
from basketpay.payments import api as payments_api
from basketpay.payments.service import PaymentService
from basketpay.payments.sweeper import Sweeper
from basketpay.processor_events import api as processor_events_api
from basketpay.reconciliation import api as reconciliation_api
from basketpay.reconciliation.pos import api as pos_feeds_api
from basketpay.reconciliation.service import Reconciliation
from basketpay.routing import api as routing_api
from basketpay.routing.configs import RoutingConfigs
from basketpay.routing.experiments import api as experiments_api
from basketpay.routing.experiments.service import Experiments
from basketpay.routing.health import HealthBoard, open_health_store
from basketpay.routing.health_model import HealthPolicy
from basketpay.routing.router import Router
from basketpay.settings import Settings, get_settings
from basketpay.stored_value import api as stored_value_api
from basketpay.vault import api as vault_api
from basketpay.vault.keyring import Keyring
from basketpay.vault.service import Vault
from basketpay.webhooks import api as webhooks_api
from basketpay.webhooks.delivery import Deliverer
from basketpay.webhooks.service import WebhookService
from basketpay.workflows.runtime import WorkflowClient
from basketpay.workflows.worker import run_worker

DESCRIPTION = """
basketpay's payment API: Stripe-like payment intents (authorize, capture in parts,
increment, void, refund) with idempotency keys on every POST.

Authenticate with `Authorization: Bearer sk_test_…`. Errors are
`{"error": {"type", "code", "decline_code", "message", "param"}}`.
"""


def _ebt_client(settings: Settings) -> EbtClient | None:
    if settings.ebt_api_base is None:
        return None
    return EbtClient(settings.ebt_api_base, settings.ebt_api_key.get_secret_value(), settings.ebt_timeout_ms)


def health_policy(settings: Settings) -> HealthPolicy:
    return HealthPolicy(breaker_window_seconds=settings.routing_breaker_window_seconds,
                        calls_min=settings.routing_breaker_calls_min,
                        failure_rate_max=settings.routing_breaker_failure_rate_max,
                        cooldown_seconds=settings.routing_breaker_cooldown_seconds)


async def build_services(settings: Settings) -> Services:
    database = await Database(settings).open()
    vault = Vault(Keyring.from_settings(settings.vault_key_encryption_key, settings.data_dir))
    payments = PaymentService(database, build_registry(database, settings), vault, settings)
    ledger = LedgerService(payments)
    ebt = _ebt_client(settings)
    workflows = WorkflowClient(settings)
    orders = OrderService(OrderEngine(payments, ledger, ebt, workflows, settings))
    routing = RoutingConfigs(database, payments.connectors.names())
    # Redis keys per database: processes sharing a database share processor health and rate limits.
    prefix = f"basketpay:{make_url(database_url(settings)).database}"
    payments.health = HealthBoard(open_health_store(settings.redis_url, health_policy(settings), f"{prefix}:routing:health"),
                                  health_policy(settings))
    experiments = Experiments(database, payments.connectors.names())
    router = Router(routing, payments.health, payments.connectors.default, experiments=experiments)
    if settings.routing_enabled:
        payments.router, payments.experiments = router, experiments
    else:
        payments.health = None
    return Services(
        settings=settings,
        database=database,
        authenticator=Authenticator(database, settings.auth_cache_seconds),
        limiter=open_limiter(settings.redis_url, settings.rate_limit_requests_per_second,
                             settings.rate_limit_burst_max, f"{prefix}:ratelimit"),
        vault=vault,
        payments=payments,
        ledger=ledger,
        webhooks=WebhookService(payments),
        orders=orders,
        routing=routing,
        router=router,
        experiments=experiments,
        reconciliation=Reconciliation(database, settings),
    )


async def close_services(container: Services) -> None:
    await container.router.health.close()
    await container.limiter.close()
    engine = container.orders.engine
    await engine.workflows.close()
    if engine.ebt.client is not None:
        await engine.ebt.client.close()
    await container.database.close()


def install_openapi_security(app: FastAPI) -> None:
    """Document the bearer secret key on every /v1 operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "secretKey": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer sk_test_…`"}
            }
            for path, operations in schema["paths"].items():
                if path.startswith("/v1/") and not path.startswith("/v1/processor_webhooks/"):
                    for operation in operations.values():
                        operation["security"] = [{"secretKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, *, run_sweeper: bool = True,
               worker_executor_id: str | None = None) -> FastAPI:
    """`worker_executor_id`: also run an order-workflow worker in this process, as that executor."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await build_services(settings)
        app.state.services = container
        stop = asyncio.Event()
        background = []
        deliverer = Deliverer(container.database, settings.webhook_timeout_ms, settings.webhook_batch_size_max,
                              settings.webhook_retry_schedule_scale)
        if run_sweeper:
            background.append(asyncio.create_task(Sweeper(container.payments).run_forever(stop)))
            background.append(asyncio.create_task(
                deliverer.run_forever(stop, settings.webhook_delivery_interval_seconds)))
        if settings.redis_url is not None:  # other processes' outcomes, read into this one's snapshot
            background.append(asyncio.create_task(
                container.router.health.run_refresher(stop, settings.routing_health_refresh_seconds)))
        if worker_executor_id is not None:
            background.append(asyncio.create_task(run_worker(container.orders, settings, worker_executor_id, stop)))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*background)
            await deliverer.close()
            await close_services(container)

    app = FastAPI(title="basketpay", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    app.include_router(payments_api.router)
    app.include_router(vault_api.router)
    app.include_router(processor_events_api.router)
    app.include_router(ledger_api.router)
    app.include_router(webhooks_api.router)
    app.include_router(stored_value_api.router)
    app.include_router(orders_api.router)
    app.include_router(routing_api.router)
    app.include_router(experiments_api.router)
    app.include_router(reconciliation_api.router)
    app.include_router(pos_feeds_api.router)

    install_openapi_security(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(render_metrics(), media_type="text/plain; version=0.0.4")

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
