"""Routes under /v1/webhook_endpoints and /v1/webhook_deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response

from basketpay.api import docs
from basketpay.api.dependencies import IdempotencyKey, MerchantId, Page, context, list_body, services, stored
from basketpay.payments.schemas import OBJECT_ID_PATTERN
from basketpay.webhooks import schemas

router = APIRouter(prefix="/v1", tags=["webhooks"])
ObjectPath = Annotated[str, Path(pattern=OBJECT_ID_PATTERN)]


def _webhooks(request: Request) -> Any:
    return services(request).webhooks


@router.post("/webhook_endpoints", responses=docs.WRITE,
             summary="Register an endpoint for events; the response carries its signing secret, once")
async def create_endpoint(request: Request, merchant: MerchantId, key: IdempotencyKey,
                          params: Annotated[schemas.EndpointCreate, Body()]) -> Response:
    return stored(await _webhooks(request).create_endpoint(context(request, merchant, key, params), params))


@router.get("/webhook_endpoints", responses=docs.READ, summary="List webhook endpoints")
async def list_endpoints(request: Request, merchant: MerchantId, page: Page) -> dict[str, Any]:
    data, has_more = await _webhooks(request).list_endpoints(merchant, page)
    return list_body("/v1/webhook_endpoints", data, has_more)


@router.get("/webhook_endpoints/{endpoint_id}", responses=docs.READ, summary="Retrieve a webhook endpoint")
async def retrieve_endpoint(request: Request, merchant: MerchantId, endpoint_id: ObjectPath) -> dict[str, Any]:
    from basketpay.webhooks.service import endpoint_json

    async with _webhooks(request).database.connection() as connection:
        return endpoint_json(await _webhooks(request).endpoint(connection, merchant, endpoint_id))


@router.post("/webhook_endpoints/{endpoint_id}/rotate_secret", responses=docs.WRITE,
             summary="A new signing secret; the previous one keeps signing too until the overlap ends")
async def rotate_secret(request: Request, merchant: MerchantId, key: IdempotencyKey, endpoint_id: ObjectPath,
                        params: Annotated[schemas.SecretRotate, Body()]) -> Response:
    ctx = context(request, merchant, key, params)
    return stored(await _webhooks(request).rotate_secret(ctx, endpoint_id, params))


@router.post("/webhook_endpoints/{endpoint_id}/disable", responses=docs.WRITE, summary="Stop sending to an endpoint")
async def disable_endpoint(request: Request, merchant: MerchantId, key: IdempotencyKey,
                           endpoint_id: ObjectPath) -> Response:
    ctx = context(request, merchant, key, None)
    return stored(await _webhooks(request).set_status(ctx, endpoint_id, "disabled"))


@router.post("/webhook_endpoints/{endpoint_id}/enable", responses=docs.WRITE, summary="Send to an endpoint again")
async def enable_endpoint(request: Request, merchant: MerchantId, key: IdempotencyKey,
                          endpoint_id: ObjectPath) -> Response:
    ctx = context(request, merchant, key, None)
    return stored(await _webhooks(request).set_status(ctx, endpoint_id, "enabled"))


@router.get("/webhook_endpoints/{endpoint_id}/deliveries", responses=docs.READ,
            summary="The delivery log of an endpoint, newest first")
async def deliveries(request: Request, merchant: MerchantId, endpoint_id: ObjectPath, page: Page) -> dict[str, Any]:
    data, has_more = await _webhooks(request).deliveries(merchant, endpoint_id, page)
    return list_body(f"/v1/webhook_endpoints/{endpoint_id}/deliveries", data, has_more)


@router.get("/webhook_deliveries/{delivery_id}", responses=docs.READ,
            summary="A delivery with every attempt (status code, error, latency)")
async def retrieve_delivery(request: Request, merchant: MerchantId, delivery_id: ObjectPath) -> dict[str, Any]:
    return await _webhooks(request).delivery(merchant, delivery_id)  # type: ignore[no-any-return]


@router.post("/webhook_deliveries/{delivery_id}/replay", responses=docs.WRITE,
             summary="Send a delivery again now, with the same webhook-id")
async def replay(request: Request, merchant: MerchantId, key: IdempotencyKey, delivery_id: ObjectPath) -> Response:
    return stored(await _webhooks(request).replay(context(request, merchant, key, None), delivery_id))
