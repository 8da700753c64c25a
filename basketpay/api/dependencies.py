"""Shared request dependencies: the service container, authentication, rate limiting,
the Idempotency-Key header and list parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from basketpay.api.ratelimit import Limiter
from basketpay.db.database import Database
from basketpay.db.pagination import LIMIT_DEFAULT, LIMIT_MAX, PageRequest
from basketpay.idempotency.keys import StoredResponse, validate_key
from basketpay.ledger.service import LedgerService
from basketpay.merchants.service import Authenticator
from basketpay.orders.service import OrderService
from basketpay.payments.phases import RequestContext
from basketpay.payments.schemas import OBJECT_ID_PATTERN
from basketpay.payments.service import PaymentService
from basketpay.reconciliation.service import Reconciliation
from basketpay.routing.configs import RoutingConfigs
from basketpay.routing.experiments.service import Experiments
from basketpay.routing.router import Router
from basketpay.settings import Settings
from basketpay.vault.service import Vault
from basketpay.webhooks.service import WebhookService


@dataclass
class Services:
    settings: Settings
    database: Database
    authenticator: Authenticator
    limiter: Limiter
    vault: Vault
    payments: PaymentService
    ledger: LedgerService
    webhooks: WebhookService
    orders: OrderService
    routing: RoutingConfigs
    router: Router
    experiments: Experiments
    reconciliation: Reconciliation


def services(request: Request) -> Services:
    """The app's service container (a plain function, not a dependency: no threadpool hop)."""
    return request.app.state.services  # type: ignore[no-any-return]


async def merchant_id(request: Request) -> str:
    """The merchant whose secret key the request carries (documented as the bearer
    scheme in app.py; read directly here: one dependency less on every request)."""
    container = services(request)
    merchant = await container.authenticator.merchant_for(request.headers.get("authorization"))
    await container.limiter.take(merchant)
    return merchant


MerchantId = Annotated[str, Depends(merchant_id)]
async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes the POST safe to retry. Required on every request that calls a processor.",
        ),
    ] = None,
) -> str | None:
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


def context(request: Request, merchant: str, key: str | None, body: BaseModel | None) -> RequestContext:
    return RequestContext(
        merchant_id=merchant,
        idempotency_key=None if key is None else validate_key(key),
        method=request.method,
        path=request.url.path,
        body=None if body is None else body.model_dump(mode="json"),
    )


def stored(response: StoredResponse) -> Response:
    return Response(response.body, status_code=response.status_code, media_type="application/json")


async def page_request(
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = LIMIT_DEFAULT,
    starting_after: Annotated[str | None, Query(pattern=OBJECT_ID_PATTERN)] = None,
    ending_before: Annotated[str | None, Query(pattern=OBJECT_ID_PATTERN)] = None,
) -> PageRequest:
    return PageRequest(limit, starting_after, ending_before)


Page = Annotated[PageRequest, Depends(page_request)]


def list_body(url: str, data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "url": url, "data": data, "has_more": has_more}
