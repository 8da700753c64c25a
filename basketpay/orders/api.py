"""Routes under /v1/orders and /v1/order_policy."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response

from basketpay.api import docs
from basketpay.api.dependencies import IdempotencyKey, MerchantId, Page, context, list_body, services
from basketpay.errors import InvalidRequest
from basketpay.idempotency.keys import validate_key
from basketpay.orders import schemas
from basketpay.orders.serializers import order_json
from basketpay.orders.service import OrderService
from basketpay.payments.schemas import OBJECT_ID_PATTERN

router = APIRouter(prefix="/v1", tags=["orders"])
ORDER_ID = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="An order id, ord_…")]


def _orders(request: Request) -> OrderService:
    return services(request).orders


def _json(body: dict[str, Any], status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


@router.post("/orders", responses=docs.PROCESSOR, summary="Create an order payment: split the estimate across the "
             "tenders and authorize each (Idempotency-Key required)")
async def create_order(request: Request, merchant: MerchantId, key: IdempotencyKey,
                       params: Annotated[schemas.OrderCreate, Body()]) -> Response:
    status_code, record = await _orders(request).checkout.create(context(request, merchant, key, params), params)
    body = order_json(record)
    if status_code == 402:
        failure = record.failure or {}
        return _json({"error": {"type": "card_error", "code": "tender_declined",
                                "decline_code": failure.get("decline_code"), "param": "tenders",
                                "message": f"The {failure.get('tender')} tender was declined.", "order": body}}, 402)
    return _json(body)


@router.get("/orders", responses=docs.READ, summary="List orders, newest first")
async def list_orders(request: Request, merchant: MerchantId, page: Page) -> dict[str, Any]:
    data, has_more = await _orders(request).list_orders(merchant, page)
    return list_body("/v1/orders", data, has_more)


@router.get("/orders/{order_id}", responses=docs.READ,
            summary="Retrieve an order: tenders, holds, captures, refunds and the ledger entries behind them")
async def retrieve_order(request: Request, merchant: MerchantId, order_id: ORDER_ID) -> Response:
    return _json(await _orders(request).retrieve(merchant, order_id))


@router.post("/orders/{order_id}/events", responses=docs.WRITE,
             summary="An item event during fulfilment: substituted, weighed, out of stock, added, quantity changed")
async def order_event(request: Request, merchant: MerchantId, order_id: ORDER_ID,
                      params: Annotated[schemas.ItemEventIn, Body()]) -> Response:
    return _json(order_json(await _orders(request).changes.apply_event(merchant, order_id, params)))


@router.post("/orders/{order_id}/resolve", responses=docs.PROCESSOR,
             summary="The customer's answer when the order requires action: retry the card, or hold on a new one")
async def resolve_order(request: Request, merchant: MerchantId, order_id: ORDER_ID,
                        params: Annotated[schemas.ActionResolve, Body()] = schemas.ActionResolve()  # noqa: B008
                        ) -> Response:
    return _json(order_json(await _orders(request).growth.resolve(merchant, order_id, params.payment_method)))


@router.post("/orders/{order_id}/deliver", responses=docs.WRITE,
             summary="Delivered: capture each tender's final amount and release the rest of every hold")
async def deliver_order(request: Request, merchant: MerchantId, order_id: ORDER_ID) -> Response:
    return _json(order_json(await _orders(request).delivery.request_delivery(merchant, order_id)))


@router.post("/orders/{order_id}/tip", responses=docs.WRITE,
             summary="Set the tip (any change within the change window after delivery, increases until the "
                     "increase window closes)")
async def order_tip(request: Request, merchant: MerchantId, order_id: ORDER_ID,
                    params: Annotated[schemas.TipUpdate, Body()]) -> Response:
    return _json(order_json(await _orders(request).tips.set_tip(merchant, order_id, params.amount)))


@router.post("/orders/{order_id}/refunds", responses=docs.WRITE,
             summary="Refund missing or damaged items to the tenders that paid for them (Idempotency-Key required)")
async def refund_order(request: Request, merchant: MerchantId, key: IdempotencyKey, order_id: ORDER_ID,
                       params: Annotated[schemas.OrderRefundCreate, Body()]) -> Response:
    if key is None:
        raise InvalidRequest("A refund needs an Idempotency-Key header.", code="idempotency_key_missing",
                             param="Idempotency-Key")
    refund_id = "oref_" + hashlib.sha256(f"{merchant}\0{order_id}\0{validate_key(key)}".encode()).hexdigest()[:24]
    record = await _orders(request).returns.request_refund(merchant, order_id, refund_id, params)
    return _json(order_json(record))


@router.post("/orders/{order_id}/cancel", responses=docs.WRITE,
             summary="Cancel: release every hold and refund whatever was captured")
async def cancel_order(request: Request, merchant: MerchantId, order_id: ORDER_ID,
                       params: Annotated[schemas.OrderCancel, Body()] = schemas.OrderCancel()  # noqa: B008
                       ) -> Response:
    return _json(order_json(await _orders(request).returns.request_cancel(merchant, order_id, params.reason)))


@router.get("/order_policy", responses=docs.READ, summary="This merchant's order rules (hold buffer, tip windows, …)")
async def get_order_policy(request: Request, merchant: MerchantId) -> dict[str, Any]:
    return await _orders(request).policy(merchant)


@router.post("/order_policy", responses=docs.WRITE, summary="Change this merchant's order rules")
async def set_order_policy(request: Request, merchant: MerchantId,
                           params: Annotated[schemas.OrderPolicyIn, Body()]) -> dict[str, Any]:
    return await _orders(request).set_policy(merchant, params.given())
