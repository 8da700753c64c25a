"""The HTTP surface of the SNAP EBT sandbox processor: JSON in and out, a bearer key,
an Idempotency-Key on every POST (replayed for the same request, 409 for another),
faults shared with the other sandboxes (`/__sandbox/faults`) and a balance setter for
tests (`/__sandbox/balances`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from basketpay.sandboxes.ebt_api.store import Refused, Store
from basketpay.sandboxes.faults import DroppedReply, Faults, faults_endpoint_for

IDEMPOTENCY_KEYS_MAX = 100_000
BODY_BYTES_MAX = 16 * 1024

Operation = Callable[[dict[str, Any]], dict[str, Any]]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _amount(body: dict[str, Any]) -> int:
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount < 10**12:
        raise Refused(400, "parameter_invalid", "amount must be a positive integer in cents")
    return amount


def create_app(faults_config: dict[str, Any] | None = None) -> FastAPI:
    store, faults = Store(), Faults()
    faults.update(faults_config or {})
    app = FastAPI(title="basketpay EBT sandbox", openapi_url=None)

    async def run(request: Request, operation: Operation) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "unauthorized", "Send a bearer API key.")
        await faults.delay()
        if faults.outage:
            return _error(503, "outage", "Sandbox outage.")
        fault = faults.draw()
        if fault == "error":
            return _error(500, "internal_error", "Sandbox fault: nothing was done.")
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}") if len(raw) <= BODY_BYTES_MAX else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "invalid_json", "The body must be a JSON object.")
        key = request.headers.get("idempotency-key")
        digest = hashlib.sha256(request.url.path.encode() + b"\0" + raw).hexdigest()
        async with store.lock:
            if key is not None and key in store.recorded:
                seen, status, answer = store.recorded[key]
                if seen != digest:
                    return _error(409, "idempotency_key_reused", "This Idempotency-Key was used for another request.")
                return DroppedReply() if fault == "reply_lost" else JSONResponse(answer, status_code=status)
            try:
                status, answer = 200, operation(body)
            except Refused as refused:
                return _error(refused.status, refused.code, refused.message)
            if key is not None:
                store.recorded[key] = (digest, status, answer)
                while len(store.recorded) > IDEMPOTENCY_KEYS_MAX:
                    store.recorded.popitem(last=False)
        return DroppedReply() if fault == "reply_lost" else JSONResponse(answer, status_code=status)

    @app.post("/v1/payment_methods")
    async def tokenize(request: Request) -> Response:
        return await run(request, lambda body: store.tokenize(str(body.get("card_number", ""))).public())

    @app.post("/v1/payment_methods/{card_id}/balance")
    async def balance(card_id: str, request: Request) -> Response:
        return await run(request, lambda body: {
            "object": "ebt_balance", "payment_method": card_id,
            "snap": store.balance(card_id, body.get("pin_token"))})

    @app.post("/v1/payments")
    async def authorize(request: Request) -> Response:
        return await run(request, lambda body: store.authorize(
            str(body.get("payment_method", "")), _amount(body), str(body.get("reference", "")),
            body.get("pin_token")).public())

    @app.post("/v1/payments/{payment_id}/capture")
    async def capture(payment_id: str, request: Request) -> Response:
        return await run(request, lambda body: store.capture(payment_id, _amount(body)).public())

    @app.post("/v1/payments/{payment_id}/cancel")
    async def cancel(payment_id: str, request: Request) -> Response:
        return await run(request, lambda _: store.cancel(payment_id).public())

    @app.post("/v1/payments/{payment_id}/refunds")
    async def refund(payment_id: str, request: Request) -> Response:
        return await run(request, lambda body: store.refund(payment_id, _amount(body)).public())

    @app.get("/v1/payments")
    async def by_reference(reference: str) -> Response:
        """The payments made with this merchant reference, newest first: how a caller that lost an
        authorization's answer finds it without the PIN that replaying it would need."""
        async with store.lock:
            return JSONResponse({"data": [payment.public() for payment in store.by_reference(reference)]})

    @app.get("/v1/payments/{payment_id}")
    async def retrieve(payment_id: str) -> Response:
        async with store.lock:
            try:
                return JSONResponse(store.payment(payment_id).public())
            except Refused as refused:
                return _error(refused.status, refused.code, refused.message)

    @app.post("/__sandbox/balances")
    async def set_balance(request: Request) -> Response:
        body = await request.json()
        async with store.lock:
            card = store.set_balance(str(body["card_number"]), int(body["snap"]))
        return JSONResponse({**card.public(), "snap": card.snap_balance})

    app.add_api_route("/__sandbox/faults", faults_endpoint_for(faults), methods=["GET", "POST"])
    return app
