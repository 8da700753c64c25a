"""POST /v1/processor_webhooks/{connector}: where processors deliver their events.
Authenticated by the processor's signature, not by an API key."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import SecretStr

from basketpay.api.dependencies import services
from basketpay.api.errors import json_response
from basketpay.connectors.adyen import webhooks as adyen_webhooks
from basketpay.connectors.stripe import webhooks as stripe_webhooks
from basketpay.errors import InvalidRequest, NotFound
from basketpay.payments.sweeper import Sweeper
from basketpay.processor_events import service

router = APIRouter(prefix="/v1/processor_webhooks", tags=["processor webhooks"])
PAYLOAD_BYTES_MAX = 256 * 1024


def _configured(secret: SecretStr | None, what: str) -> str:
    if secret is None:
        raise NotFound(f"{what} are not configured.", code="webhooks_not_configured")
    return secret.get_secret_value()


async def _payload(request: Request) -> bytes:
    payload = await request.body()
    if len(payload) > PAYLOAD_BYTES_MAX:
        raise InvalidRequest("The delivery is too large.", code="webhook_rejected")
    return payload


@router.post("/adyen", summary="Adyen notifications (HMAC verified)", responses={400: {"description": "Rejected"}})
async def adyen_notifications(request: Request) -> Response:
    container = services(request)
    key = _configured(container.settings.adyen_hmac_key_hex, "Adyen notifications")
    payload = await _payload(request)
    try:
        notifications = adyen_webhooks.parse(orjson.loads(payload), key)
    except (orjson.JSONDecodeError, adyen_webhooks.NotificationRejected) as error:
        raise InvalidRequest(f"Notification rejected: {error}.", code="webhook_rejected") from error
    sweeper = Sweeper(container.payments)
    for notification in notifications:
        if await service.record(container.database, "adyen", notification):
            await service.apply_answer(container.database, sweeper, "adyen", notification)
    # Adyen retries a delivery until it reads exactly this.
    return Response("[accepted]", media_type="text/plain")


@router.post("/stripe", summary="Stripe events (Stripe-Signature verified)", responses={400: {"description": "Rejected"}})
async def stripe_events(request: Request) -> Response:
    container = services(request)
    secret = _configured(container.settings.stripe_webhook_secret, "Stripe webhooks")
    payload = await _payload(request)
    try:
        event = stripe_webhooks.verify(payload, request.headers.get("stripe-signature"), secret)
    except stripe_webhooks.WebhookRejected as error:
        raise InvalidRequest(f"Webhook rejected: {error}.", code="webhook_rejected") from error
    body: dict[str, Any] = {"received": True, "duplicate": False}
    if not await service.record(container.database, "stripe", event):
        body["duplicate"] = True
        return json_response(body, 200)
    body["outcome"] = await service.resolve_pending(container.database, Sweeper(container.payments), "stripe", event)
    return json_response(body, 200)
