"""POST /v1/payment_methods: tokenize a card. The response shows brand, BIN, last 4 and expiry only."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response
from psycopg import AsyncConnection
from pydantic import BaseModel

from basketpay.api import docs
from basketpay.api.dependencies import IdempotencyKey, MerchantId, services, stored
from basketpay.audit.entries import entry
from basketpay.audit.tables import audit_log
from basketpay.idempotency.keys import KeyRequest, StoredResponse, validate_key
from basketpay.payments.phases import Plan, RequestContext, utc_now
from basketpay.payments.schemas import OBJECT_ID_PATTERN, PaymentMethodCreate
from basketpay.vault.service import payment_method_json
from basketpay.vault.tables import payment_methods

router = APIRouter(prefix="/v1")


class CardOut(BaseModel):
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    bin: str


class PaymentMethodOut(BaseModel):
    id: str
    object: str
    type: str
    card: CardOut
    created: int


@router.post(
    "/payment_methods", response_model=PaymentMethodOut, responses=docs.WRITE,
    summary="Tokenize a card", tags=["payment_methods"],
)
async def create_payment_method(
    request: Request, merchant: MerchantId, key: IdempotencyKey, params: Annotated[PaymentMethodCreate, Body()]
) -> Response:
    container = services(request)
    card = params.card
    body = {**params.model_dump(mode="json"), "card": container.vault.request_fingerprint(card)}
    ctx = RequestContext(merchant, validate_key(key) if key else None, request.method, request.url.path, body)

    async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
        row = container.vault.tokenize(merchant, card.number, card.exp_month, card.exp_year, card.cvc, utc_now())
        response = StoredResponse(200, orjson.dumps(payment_method_json(SimpleNamespace(**row))))
        written = entry(f"merchant:{merchant}", "vault.write", row["id"], detail={"brand": row["brand"]})
        return Plan(response=response, inserts=[(payment_methods, row), (audit_log, written)])

    return stored(await container.payments.execute(ctx, phase_one))


@router.get(
    "/payment_methods/{payment_method_id}", response_model=PaymentMethodOut, responses=docs.READ,
    summary="Retrieve a payment method", tags=["payment_methods"],
)
async def retrieve_payment_method(
    request: Request, merchant: MerchantId,
    payment_method_id: Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="A payment method id, pm_…")],
) -> dict[str, Any]:
    container = services(request)
    async with container.database.connection() as connection:
        return payment_method_json(await container.vault.load(connection, merchant, payment_method_id))
