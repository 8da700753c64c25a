"""Routes under /v1/gift_cards and /v1/customer_credits."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response

from basketpay.api import docs
from basketpay.api.dependencies import IdempotencyKey, MerchantId, context, services, stored
from basketpay.payments.schemas import OBJECT_ID_PATTERN
from basketpay.stored_value import schemas
from basketpay.stored_value.service import StoredValue, credit_code, gift_card_code

router = APIRouter(prefix="/v1", tags=["stored value"])
Currency = Annotated[str, Query(pattern=r"^[A-Za-z]{3}$")]


def _stored_value(request: Request) -> StoredValue:
    container = services(request)
    return StoredValue(container.ledger, container.payments)


def _summary(response: Any, object_name: str, object_id: str) -> Response:
    if response.status_code != 200:
        return stored(response)
    entry = orjson.loads(response.body)["data"][0]
    amount = entry["postings"][0]["amount"]
    body = {"object": object_name, "id": object_id, "entry": entry["id"], "amount": amount,
            "currency": entry["postings"][0]["currency"]}
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/gift_cards", responses=docs.WRITE, summary="Issue (sell) a gift card: a liability to its holder")
async def issue_gift_card(request: Request, merchant: MerchantId, key: IdempotencyKey,
                          params: Annotated[schemas.GiftCardIssue, Body()]) -> Response:
    response = await _stored_value(request).issue_gift_card(context(request, merchant, key, params), params)
    gift_card = orjson.loads(response.body)["data"][0]["object_id"] if response.status_code == 200 else ""
    return _summary(response, "gift_card", gift_card)


@router.get("/gift_cards/{gift_card_id}/balance", responses=docs.READ, summary="A gift card's balance")
async def gift_card_balance(request: Request, merchant: MerchantId, currency: Currency,
                            gift_card_id: Annotated[str, Path(pattern=OBJECT_ID_PATTERN)]) -> dict[str, Any]:
    return await _stored_value(request).balance(merchant, gift_card_code(gift_card_id), currency)


@router.post("/customer_credits", responses=docs.WRITE, summary="Grant a customer credit")
async def grant_credit(request: Request, merchant: MerchantId, key: IdempotencyKey,
                       params: Annotated[schemas.CreditGrant, Body()]) -> Response:
    response = await _stored_value(request).grant_credit(context(request, merchant, key, params), params)
    return _summary(response, "customer_credit", params.customer)


@router.get("/customer_credits/{customer}/balance", responses=docs.READ, summary="A customer's credit balance")
async def credit_balance(request: Request, merchant: MerchantId, currency: Currency,
                         customer: Annotated[str, Path(pattern=OBJECT_ID_PATTERN)]) -> dict[str, Any]:
    return await _stored_value(request).balance(merchant, credit_code(customer), currency)
