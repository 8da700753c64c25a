"""Routes under /v1/routing: the merchant's routing configuration (versioned, each change a
new version, a rollback too) and a dry run of the decision."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from basketpay.api import docs
from basketpay.api.dependencies import MerchantId, services
from basketpay.errors import NotFound
from basketpay.routing import schemas
from basketpay.routing.model import AttemptContext

router = APIRouter(prefix="/v1/routing", tags=["routing"])


@router.get("/config", responses=docs.READ, summary="The routing configuration in force")
async def get_config(request: Request, merchant: MerchantId) -> dict[str, Any]:
    version = await services(request).routing.active(merchant)
    if version is None:
        raise NotFound("No routing configuration: payments go to the default processor.", param="config")
    return version.json()


@router.post("/config", responses=docs.WRITE, summary="Put a new routing configuration in force (a new version)")
async def put_config(request: Request, merchant: MerchantId,
                     params: Annotated[schemas.RoutingConfigIn, Body()]) -> dict[str, Any]:
    return (await services(request).routing.put(merchant, params.config, params.note)).json()


@router.get("/config/versions", responses=docs.READ, summary="Every version, newest first (the audit trail)")
async def list_versions(request: Request, merchant: MerchantId,
                        limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    versions = await services(request).routing.versions(merchant, limit)
    return {"object": "list", "url": "/v1/routing/config/versions", "data": [v.json() for v in versions],
            "has_more": len(versions) == limit}


@router.post("/config/rollback", responses=docs.WRITE, summary="Put an earlier version back in force")
async def rollback(request: Request, merchant: MerchantId, params: Annotated[schemas.RollbackIn, Body()]) -> dict[str, Any]:
    return (await services(request).routing.rollback(merchant, params.version)).json()


@router.post("/decide", responses=docs.READ, summary="Dry run: where a payment with these facts would go")
async def decide(request: Request, merchant: MerchantId, params: Annotated[schemas.DecideIn, Body()]) -> dict[str, Any]:
    context = AttemptContext(merchant, params.amount, params.currency.lower(), params.brand, params.bin,
                             params.issuing_country, params.funding, customer=params.customer)
    decision = await services(request).router.decide(context)
    return {"object": "routing_decision", "strategy": decision.strategy, "config_version": decision.config_version,
            "experiment_arm": decision.experiment_arm,
            "candidates": [asdict(candidate) for candidate in decision.candidates]}
