"""The Stripe-compatible sandbox as an ASGI app: authentication, form parsing,
idempotent replay, `Request-Id`, then one handler under the store's lock."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from basketpay.ids import new_id
from basketpay.sandboxes.behaviour import behaviour_endpoint
from basketpay.sandboxes.faults import DroppedReply, Faults, faults_endpoint
from basketpay.sandboxes.settlement_faults import SettlementFaults, settlement_faults_endpoint
from basketpay.sandboxes.stripe_api import routes, search, settlement, webhooks
from basketpay.sandboxes.stripe_api.errors import StripeApiError, authentication_failed, idempotency_mismatch
from basketpay.sandboxes.stripe_api.forms import parse_form
from basketpay.sandboxes.stripe_api.handlers import Call, Handler, Result
from basketpay.sandboxes.stripe_api.store import Store, StoredResponse, StripeSandboxConfig

REQUEST_BODY_BYTES_MAX = 64 * 1024  # a Stripe request is a few hundred bytes
REPLAYABLE_STATUS_CODES = (200, 402)  # Stripe saves results once the endpoint ran; not validation errors
Endpoint = Callable[[Request], Awaitable[Response]]


def _api_key(request: Request) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise authentication_failed("You did not provide an API key. Provide it as 'Authorization: Bearer sk_test_…'.")
    if not key.startswith("sk_test_"):
        # Never echo a key that might be live.
        raise authentication_failed(f"Invalid API Key provided: {key[:8]}****. The sandbox accepts sk_test_ keys.")
    return key


def _response(status_code: int, body: bytes, request_id: str, extra: dict[str, str] | None = None) -> Response:
    headers = {"Request-Id": request_id, **(extra or {})}
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def _api_error(status_code: int, message: str, request_id: str) -> Response:
    body = StripeApiError(status_code, message, error_type="api_error").body()
    return _response(status_code, json.dumps(body).encode(), request_id)


class Sandbox:
    def __init__(self, config: StripeSandboxConfig) -> None:
        self.config = config
        self.store = Store(config)
        self.faults = Faults()
        self.faults.update(config.faults or {})
        self.webhooks = webhooks.WebhookSender(config, self.faults)
        self.settlement_faults = SettlementFaults()  # read by settlement.settlement_endpoint

    def endpoint(self, handler: Handler) -> Endpoint:
        async def run(request: Request) -> Response:
            request_id = new_id("req")
            await self.faults.delay()
            if self.faults.outage:
                return _api_error(503, "Sandbox outage: every request fails until it ends.", request_id)
            fault = self.faults.draw() if request.method == "POST" else None
            if fault == "error":
                return _api_error(500, "Sandbox fault: an internal error; nothing was done.", request_id)
            try:
                response = await self._handle(request, handler, request_id)
            except StripeApiError as error:
                response = _response(error.status_code, json.dumps(error.body()).encode(), request_id)
            return DroppedReply() if fault == "reply_lost" else response
        return run

    async def _handle(self, request: Request, handler: Handler, request_id: str) -> Response:
        api_key = _api_key(request)
        body = await request.body()
        if len(body) > REQUEST_BODY_BYTES_MAX:
            raise StripeApiError(400, f"The request body exceeds {REQUEST_BODY_BYTES_MAX} bytes.")
        params = parse_form(body if request.method == "POST" else request.url.query)
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        if key is not None and not 0 < len(key) <= self.config.idempotency_key_length_max:
            raise StripeApiError(400, "Idempotency-Key is empty or too long.", param="Idempotency-Key")
        # A digest, not the parameters themselves: they may hold a raw card number.
        canonical = json.dumps([request.method, request.url.path, params], sort_keys=True)
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        async with self.store.lock:
            stored = self.store.responses.get((api_key, key)) if key is not None else None
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise idempotency_mismatch(key or "")
                replayed = {"Idempotent-Replayed": "true", "Idempotency-Key": key or ""}
                return _response(stored.status_code, stored.body, request_id, replayed)
            try:
                result = handler(Call(self.store, params, dict(request.path_params), int(time.time())))
            except StripeApiError as error:
                result = Result(error.status_code, error.body())
            encoded = json.dumps(result.body).encode()
            if key is not None and result.status_code in REPLAYABLE_STATUS_CODES:
                self.store.remember((api_key, key), StoredResponse(fingerprint, result.status_code, encoded))
        self.webhooks.enqueue([webhooks.event(kind, obj, request_id, key) for kind, obj in result.events])
        return _response(result.status_code, encoded, request_id, {"Idempotency-Key": key} if key else None)


async def _all_intents(request: Request) -> Response:
    """Sandbox-only: every payment intent, for tests that compare the processor's books with basketpay's."""
    sandbox: Sandbox = request.app.state.sandbox
    async with sandbox.store.lock:
        rows = [
            {"id": i.id, "status": i.status, "amount": i.amount, "amount_received": i.amount_received,
             "amount_capturable": i.amount_capturable, "amount_refunded": i.amount_refunded, "metadata": i.metadata}
            for i in sandbox.store.intents.values()
        ]
    return Response(json.dumps(rows), media_type="application/json")


async def _unrecognized_url(request: Request, exc: Exception) -> Response:
    message = f"Unrecognized request URL ({request.method}: {request.url.path})."
    return _response(404, json.dumps(StripeApiError(404, message).body()).encode(), new_id("req"))


def create_app(config: StripeSandboxConfig | None = None) -> Starlette:
    sandbox = Sandbox(config or StripeSandboxConfig())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sandbox.webhooks.start()
        yield
        await sandbox.webhooks.stop()

    intent = "/v1/payment_intents/{id}"
    table: list[tuple[str, str, Handler]] = [
        ("POST", "/v1/payment_intents", routes.create_intent),
        ("GET", "/v1/payment_intents/search", search.search_intents),  # before {id}, which would take "search"
        ("GET", intent, routes.get_intent),
        ("POST", intent, routes.update_intent),
        ("POST", intent + "/confirm", routes.confirm_intent),
        ("POST", intent + "/capture", routes.capture_intent),
        ("POST", intent + "/cancel", routes.cancel_intent),
        ("POST", intent + "/increment_authorization", routes.increment_intent),
        ("POST", "/v1/refunds", routes.create_refund),
        ("GET", "/v1/refunds/{id}", routes.get_refund),
        ("POST", "/v1/payment_methods", routes.create_payment_method),
        ("GET", "/v1/payment_methods/{id}", routes.get_payment_method),
    ]
    app_routes = [Route(path, sandbox.endpoint(handler), methods=[method]) for method, path, handler in table]
    app_routes += [
        Route("/__sandbox/faults", faults_endpoint, methods=["GET", "POST"]),
        Route("/__sandbox/payment_intents", _all_intents, methods=["GET"]),
        Route("/__sandbox/settlement", settlement.settlement_endpoint, methods=["POST"]),
        Route("/__sandbox/settlement_faults", settlement_faults_endpoint(sandbox.settlement_faults),
              methods=["GET", "POST"]),
        Route("/__sandbox/behaviour", behaviour_endpoint(sandbox.store), methods=["GET", "POST"]),
    ]
    app = Starlette(routes=app_routes, lifespan=lifespan,
                    exception_handlers={404: _unrecognized_url, 405: _unrecognized_url})
    app.state.sandbox = sandbox  # for tests and `basketpay sim`: the store and the webhook sender
    return app
