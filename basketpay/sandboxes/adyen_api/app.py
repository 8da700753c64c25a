"""The HTTP surface of the Adyen sandbox: Checkout API v71 payments and modifications,
Adyen's error envelope, Idempotency-Key replay, injected faults (sandboxes/faults.py)
and sandbox-only inspection endpoints."""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from basketpay.sandboxes.adyen_api.config import AdyenSandboxConfig
from basketpay.sandboxes.adyen_api.notifications import Notifier
from basketpay.sandboxes.adyen_api.parsing import (
    ValidationFailed,
    parse_modification,
    parse_payment,
    parse_technical_cancel,
)
from basketpay.sandboxes.adyen_api.payments import MODIFICATION_KINDS
from basketpay.sandboxes.adyen_api.settlement import settlement_route
from basketpay.sandboxes.adyen_api.store import Recorded, Store, fingerprint
from basketpay.sandboxes.adyen_api.wire import (
    authorisation_notification,
    modification_notification,
    modification_response,
    payment_response,
    technical_cancel_notification,
    technical_cancel_response,
)
from basketpay.sandboxes.behaviour import behaviour_endpoint
from basketpay.sandboxes.faults import DroppedReply, Faults, faults_endpoint_for
from basketpay.sandboxes.settlement_faults import SettlementFaults, settlement_faults_endpoint

REQUEST_BODY_BYTES_MAX = 64 * 1024
IDEMPOTENCY_KEY_LENGTH_MAX = 64  # Adyen's documented maximum

Operation = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def adyen_error(status: int, error_code: str, message: str, error_type: str) -> JSONResponse:
    body = {"status": status, "errorCode": error_code, "message": message, "errorType": error_type}
    return JSONResponse(body, status_code=status)


async def _read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > REQUEST_BODY_BYTES_MAX:
        raise ValidationFailed("702", f"Request body is larger than {REQUEST_BODY_BYTES_MAX} bytes")
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise ValidationFailed("702", "Unable to parse the request body as JSON") from error
    if not isinstance(body, dict):
        raise ValidationFailed("702", "The request body must be a JSON object")
    return body


async def _with_faults(faults: Faults, request: Request, run: Callable[[], Awaitable[Response]]) -> Response:
    await faults.delay()
    if faults.outage:
        return adyen_error(503, "000", "Sandbox outage: every request fails until it ends.", "internal")
    fault = faults.draw() if request.method == "POST" else None
    if fault == "error":
        return adyen_error(500, "000", "Sandbox fault: an internal error; nothing was done.", "internal")
    response = await run()
    return DroppedReply() if fault == "reply_lost" else response


async def _handle(store: Store, request: Request, operation: Operation) -> JSONResponse:
    api_key = request.headers.get("x-api-key", "").strip()
    if not api_key:
        return adyen_error(401, "000", "HTTP Status Response - Unauthorized", "security")
    idempotency_key = request.headers.get("idempotency-key")
    try:
        body = await _read_json(request)
        if idempotency_key is not None and not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_LENGTH_MAX:
            raise ValidationFailed("702", f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} characters")
    except ValidationFailed as failed:
        return adyen_error(422, failed.error_code, failed.message, "validation")
    print_ = fingerprint(request.method, request.url.path, body)
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    async with store.lock:
        previous = store.recorded(api_key, idempotency_key) if idempotency_key else None
        if previous is not None and previous.fingerprint != print_:
            return adyen_error(
                422, "704", "Idempotency-Key was already used for a request with a different body", "validation"
            )
        if previous is not None:
            return JSONResponse(previous.body, status_code=previous.status_code, headers=headers)
        try:
            status_code, payload = operation(body)
        except ValidationFailed as failed:
            # Not recorded: a rejected request did nothing, so a corrected retry may reuse the key.
            return adyen_error(422, failed.error_code, failed.message, "validation")
        if idempotency_key:
            store.record(api_key, idempotency_key, Recorded(print_, status_code, payload))
    return JSONResponse(payload, status_code=status_code, headers=headers)


def create_app(config: AdyenSandboxConfig | None = None) -> FastAPI:
    config = config or AdyenSandboxConfig()
    # Fail at start-up, not on the first payment, when the key is not hex.
    bytes.fromhex(config.hmac_key_hex)
    store = Store(config)
    faults = Faults()
    faults.update(config.faults or {})
    notifier = Notifier(config, faults)
    authorised: deque[str] = deque(maxlen=config.payments_max)  # pspReferences, for GET /__sandbox/payments

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        notifier.start()
        yield
        await notifier.stop()

    app = FastAPI(title="basketpay Adyen sandbox", lifespan=lifespan, openapi_url=None)

    @app.post("/v71/payments")
    async def payments(request: Request) -> Response:
        def operation(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            payment = store.authorise(parse_payment(body, dt.datetime.now(dt.UTC).date()))
            authorised.append(payment.psp_reference)
            notifier.enqueue(authorisation_notification(payment, config.hmac_key_hex))
            return 200, payment_response(payment)

        return await _with_faults(faults, request, lambda: _handle(store, request, operation))

    @app.post("/v71/payments/{psp_reference}/{kind}")
    async def modifications(psp_reference: str, kind: str, request: Request) -> Response:
        resolved = MODIFICATION_KINDS.get(kind)
        if resolved is None:
            return adyen_error(404, "000", f"Unknown modification {kind!r}", "validation")

        def operation(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            modification_request = parse_modification(body, amount_required=resolved != "cancels")
            payment = store.payment(psp_reference)
            if payment is None:
                raise ValidationFailed("167", f"Original pspReference {psp_reference!r} not found")
            if modification_request.merchant_account != payment.merchant_account:
                raise ValidationFailed("901", "Invalid Merchant Account")
            modification = store.modify(payment, resolved, modification_request)
            notifier.enqueue(modification_notification(payment, modification, config.hmac_key_hex))
            return 201, modification_response(payment, modification)

        return await _with_faults(faults, request, lambda: _handle(store, request, operation))

    @app.post("/v71/cancels")
    async def technical_cancel(request: Request) -> Response:
        def operation(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            cancel_request = parse_technical_cancel(body)
            psp_reference, payment = store.technical_cancel(cancel_request)
            notifier.enqueue(technical_cancel_notification(psp_reference, cancel_request, payment, config.hmac_key_hex))
            return 201, technical_cancel_response(psp_reference, cancel_request)

        return await _with_faults(faults, request, lambda: _handle(store, request, operation))

    @app.get("/__sandbox/payments")
    async def all_payments() -> JSONResponse:
        """Every payment still held, for tests that compare the processor's books with basketpay's."""
        async with store.lock:
            held = [store.payment(reference) for reference in authorised]
            return JSONResponse([payment.snapshot() for payment in held if payment is not None])

    @app.get("/__sandbox/payments/{psp_reference}")
    async def inspect_payment(psp_reference: str) -> JSONResponse:
        async with store.lock:
            payment = store.payment(psp_reference)
            if payment is None:
                return adyen_error(404, "000", f"No payment {psp_reference!r}", "validation")
            return JSONResponse(payment.snapshot())

    app.add_api_route("/__sandbox/faults", faults_endpoint_for(faults), methods=["GET", "POST"])
    settlement_faults = SettlementFaults()
    app.add_api_route("/__sandbox/settlement", settlement_route(store, config.settlement_dir, settlement_faults),
                      methods=["POST"])
    app.add_api_route("/__sandbox/settlement_faults", settlement_faults_endpoint(settlement_faults),
                      methods=["GET", "POST"])
    app.add_api_route("/__sandbox/behaviour", behaviour_endpoint(store), methods=["GET", "POST"])

    @app.get("/__sandbox/notifications")
    async def notification_counts() -> JSONResponse:
        return JSONResponse({
            "delivered": notifier.delivered_count, "failed": notifier.failed_count, "dropped": notifier.dropped_count,
        })

    return app
