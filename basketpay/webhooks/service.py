"""Merchants' webhook endpoints: registered with the events they want, a signing secret
shown once (at creation and at each rotation), the delivery log, and manual replay
(the same webhook-id, so a receiver that saw it already recognises it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from psycopg import AsyncConnection

from basketpay.db.database import Database
from basketpay.db.pagination import PageRequest, fetch_page
from basketpay.db.statements import MERCHANT_SCOPE
from basketpay.errors import NotFound
from basketpay.idempotency.keys import KeyRequest, StoredResponse
from basketpay.ids import new_id
from basketpay.payments.phases import PhaseRunner, Plan, RequestContext, utc_now
from basketpay.webhooks import schemas
from basketpay.webhooks.signing import new_secret
from basketpay.webhooks.tables import webhook_deliveries, webhook_endpoints

_ENDPOINT = "SELECT * FROM webhook_endpoints WHERE id = %(id)s AND " + MERCHANT_SCOPE
_DELIVERY = "SELECT * FROM webhook_deliveries WHERE id = %(id)s AND " + MERCHANT_SCOPE
_ATTEMPTS = "SELECT * FROM webhook_attempts WHERE delivery_id = %(id)s ORDER BY id"


def _epoch(value: dt.datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def endpoint_json(row: Any, secret: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = row if isinstance(row, dict) else row._asdict()
    get = fields.get
    body = {"id": get("id"), "object": "webhook_endpoint", "url": get("url"), "description": get("description"),
            "enabled_events": list(get("enabled_events") or []), "status": get("status"), "created": _epoch(get("created_at")),
            "previous_secret_expires_at": _epoch(get("previous_secret_expires_at"))}
    if secret is not None:
        body["secret"] = secret  # shown once: at creation and at rotation
    return body


def delivery_json(row: Any, attempts: list[Any] | None = None) -> dict[str, Any]:
    body = {"id": row.id, "object": "webhook_delivery", "endpoint": row.endpoint_id, "event": row.event_id,
            "webhook_id": row.event_id, "status": row.status, "attempts": row.attempts,
            "next_attempt_at": _epoch(row.next_attempt_at), "last_status_code": row.last_status_code,
            "last_error": row.last_error, "delivered_at": _epoch(row.delivered_at), "created": _epoch(row.created_at)}
    if attempts is not None:
        body["attempt_log"] = [{"status_code": a.status_code, "error": a.error, "latency_ms": a.latency_ms,
                                "created": _epoch(a.created_at)} for a in attempts]
    return body


def _ok(body: dict[str, Any]) -> StoredResponse:
    return StoredResponse(200, orjson.dumps(body))


class WebhookService:
    def __init__(self, runner: PhaseRunner) -> None:
        self._runner = runner
        self.database: Database = runner.database

    async def create_endpoint(self, context: RequestContext, params: schemas.EndpointCreate) -> StoredResponse:
        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            secret = new_secret()
            row = {"id": new_id("we"), "merchant_id": context.merchant_id, "url": params.url,
                   "description": params.description, "enabled_events": params.enabled_events, "status": "enabled",
                   "secret": secret, "created_at": utc_now()}
            return Plan(response=_ok(endpoint_json(row, secret)), inserts=[(webhook_endpoints, row)])

        return await self._runner.execute(context, phase_one)

    async def endpoint(self, connection: AsyncConnection[Any], merchant_id: str, endpoint_id: str) -> Any:
        row = await (await connection.execute(_ENDPOINT, {"id": endpoint_id, "merchant_id": merchant_id})).fetchone()
        if row is None:
            raise NotFound(f"No such webhook endpoint: {endpoint_id!r}.")
        return row

    async def rotate_secret(self, context: RequestContext, endpoint_id: str,
                            params: schemas.SecretRotate) -> StoredResponse:
        """A new secret; the old one keeps signing alongside it until the overlap ends."""
        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            current = await self.endpoint(connection, context.merchant_id, endpoint_id)
            secret, now = new_secret(), utc_now()
            values = {"secret": secret, "previous_secret": current.secret,
                      "previous_secret_expires_at": now + dt.timedelta(seconds=params.overlap_seconds)}
            plan = Plan(response=_ok(endpoint_json({**current._asdict(), **values}, secret)))
            plan.guards.append((webhook_endpoints, values, {"id": endpoint_id, "secret": current.secret}))
            return plan

        return await self._runner.execute(context, phase_one)

    async def set_status(self, context: RequestContext, endpoint_id: str, status: str) -> StoredResponse:
        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            current = await self.endpoint(connection, context.merchant_id, endpoint_id)
            plan = Plan(response=_ok(endpoint_json({**current._asdict(), "status": status})))
            plan.guards.append((webhook_endpoints, {"status": status}, {"id": endpoint_id}))
            return plan

        return await self._runner.execute(context, phase_one)

    async def list_endpoints(self, merchant_id: str, page: PageRequest) -> tuple[list[dict[str, Any]], bool]:
        async with self.database.connection() as connection:
            rows, has_more = await fetch_page(connection, webhook_endpoints, merchant_id, page)
        return [endpoint_json(row) for row in rows], has_more

    async def deliveries(self, merchant_id: str, endpoint_id: str, page: PageRequest
                         ) -> tuple[list[dict[str, Any]], bool]:
        async with self.database.connection() as connection:
            await self.endpoint(connection, merchant_id, endpoint_id)
            rows, has_more = await fetch_page(connection, webhook_deliveries, merchant_id, page,
                                              {"endpoint_id": endpoint_id})
        return [delivery_json(row) for row in rows], has_more

    async def delivery(self, merchant_id: str, delivery_id: str) -> dict[str, Any]:
        async with self.database.connection() as connection:
            row = await (await connection.execute(_DELIVERY, {"id": delivery_id, "merchant_id": merchant_id})).fetchone()
            if row is None:
                raise NotFound(f"No such webhook delivery: {delivery_id!r}.")
            attempts = await (await connection.execute(_ATTEMPTS, {"id": delivery_id})).fetchall()
        return delivery_json(row, list(attempts))

    async def replay(self, context: RequestContext, delivery_id: str) -> StoredResponse:
        """Send it again now, with the same webhook-id, whatever became of it before."""
        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            row = await (await connection.execute(_DELIVERY, {"id": delivery_id, "merchant_id": context.merchant_id}))\
                .fetchone()
            if row is None:
                raise NotFound(f"No such webhook delivery: {delivery_id!r}.")
            values = {"status": "pending", "next_attempt_at": utc_now()}
            plan = Plan(response=_ok(delivery_json(row._replace(**values))))
            plan.guards.append((webhook_deliveries, values, {"id": delivery_id}))
            return plan

        return await self._runner.execute(context, phase_one)
