"""Routes under /v1/payment_intents and /v1/refunds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response

from basketpay.api import docs
from basketpay.api.dependencies import (
    IdempotencyKey,
    MerchantId,
    Page,
    context,
    list_body,
    services,
    stored,
)
from basketpay.payments import schemas
from basketpay.payments.schemas import OBJECT_ID_PATTERN

router = APIRouter(prefix="/v1")
INTENT_ID = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="A payment intent id, pi_…")]
REFUND_ID = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="A refund id, re_…")]


@router.post(
    "/payment_intents", response_model=schemas.PaymentIntentOut, responses=docs.PROCESSOR,
    summary="Create a payment intent (and optionally confirm it)", tags=["payment_intents"],
)
async def create_payment_intent(
    request: Request, merchant: MerchantId, key: IdempotencyKey, params: Annotated[schemas.PaymentIntentCreate, Body()]
) -> Response:
    return stored(await services(request).payments.create(context(request, merchant, key, params), params))


@router.get(
    "/payment_intents", response_model=schemas.PaymentIntentList, responses=docs.READ,
    summary="List payment intents, newest first", tags=["payment_intents"],
)
async def list_payment_intents(request: Request, merchant: MerchantId, page: Page) -> dict[str, Any]:
    data, has_more = await services(request).payments.list_intents(merchant, page)
    return list_body("/v1/payment_intents", data, has_more)


@router.get(
    "/payment_intents/{intent_id}", response_model=schemas.PaymentIntentOut, responses=docs.READ,
    summary="Retrieve a payment intent", tags=["payment_intents"],
)
async def retrieve_payment_intent(request: Request, merchant: MerchantId, intent_id: INTENT_ID) -> dict[str, Any]:
    return await services(request).payments.retrieve(merchant, intent_id)


@router.post(
    "/payment_intents/{intent_id}/confirm", response_model=schemas.PaymentIntentOut, responses=docs.PROCESSOR,
    summary="Confirm: authorize (or charge, with automatic capture) through the processor", tags=["payment_intents"],
)
async def confirm_payment_intent(
    request: Request, merchant: MerchantId, key: IdempotencyKey, intent_id: INTENT_ID,
    params: Annotated[schemas.PaymentIntentConfirm, Body()] = schemas.PaymentIntentConfirm(),  # noqa: B008 - an empty body is valid
) -> Response:
    ctx = context(request, merchant, key, params)
    return stored(await services(request).payments.confirm(ctx, intent_id, params))


@router.post(
    "/payment_intents/{intent_id}/capture", response_model=schemas.PaymentIntentOut, responses=docs.PROCESSOR,
    summary="Capture all or part of the authorized amount", tags=["payment_intents"],
)
async def capture_payment_intent(
    request: Request, merchant: MerchantId, key: IdempotencyKey, intent_id: INTENT_ID,
    params: Annotated[schemas.PaymentIntentCapture, Body()] = schemas.PaymentIntentCapture(),  # noqa: B008 - an empty body is valid
) -> Response:
    ctx = context(request, merchant, key, params)
    return stored(await services(request).payments.capture(ctx, intent_id, params))


@router.post(
    "/payment_intents/{intent_id}/increment_authorization", response_model=schemas.PaymentIntentOut,
    responses=docs.PROCESSOR, summary="Raise the authorized amount to a new total", tags=["payment_intents"],
)
async def increment_authorization(
    request: Request, merchant: MerchantId, key: IdempotencyKey, intent_id: INTENT_ID,
    params: Annotated[schemas.PaymentIntentIncrement, Body()],
) -> Response:
    ctx = context(request, merchant, key, params)
    return stored(await services(request).payments.increment_authorization(ctx, intent_id, params))


@router.post(
    "/payment_intents/{intent_id}/cancel", response_model=schemas.PaymentIntentOut, responses=docs.PROCESSOR,
    summary="Cancel (void) a payment intent before capture", tags=["payment_intents"],
)
async def cancel_payment_intent(
    request: Request, merchant: MerchantId, key: IdempotencyKey, intent_id: INTENT_ID,
    params: Annotated[schemas.PaymentIntentCancel, Body()] = schemas.PaymentIntentCancel(),  # noqa: B008 - an empty body is valid
) -> Response:
    ctx = context(request, merchant, key, params)
    return stored(await services(request).payments.cancel(ctx, intent_id, params))


@router.post(
    "/refunds", response_model=schemas.RefundOut, responses=docs.PROCESSOR,
    summary="Refund all or part of what was captured", tags=["refunds"],
)
async def create_refund(
    request: Request, merchant: MerchantId, key: IdempotencyKey, params: Annotated[schemas.RefundCreate, Body()]
) -> Response:
    return stored(await services(request).payments.refund(context(request, merchant, key, params), params))


@router.get(
    "/refunds", response_model=schemas.RefundList, responses=docs.READ, summary="List refunds", tags=["refunds"]
)
async def list_refunds(
    request: Request, merchant: MerchantId, page: Page,
    payment_intent: Annotated[str | None, Query(pattern=OBJECT_ID_PATTERN)] = None,
) -> dict[str, Any]:
    data, has_more = await services(request).payments.list_refunds(merchant, page, payment_intent)
    return list_body("/v1/refunds", data, has_more)


@router.get(
    "/refunds/{refund_id}", response_model=schemas.RefundOut, responses=docs.READ,
    summary="Retrieve a refund", tags=["refunds"],
)
async def retrieve_refund(request: Request, merchant: MerchantId, refund_id: REFUND_ID) -> dict[str, Any]:
    return await services(request).payments.retrieve_refund(merchant, refund_id)
