"""Routing configurations per merchant: validated, versioned (every change a new version,
a rollback too), audited, and cached briefly in each process for the payment path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from basketpay.audit import entries as audit
from basketpay.db.database import Database
from basketpay.errors import InvalidRequest, NotFound
from basketpay.ids import new_id
from basketpay.routing.cache import PerMerchant
from basketpay.routing.strategies import RoutingConfig, parse_config


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    config: RoutingConfig
    raw: dict[str, Any]
    note: str | None
    created_at: Any

    def json(self) -> dict[str, Any]:
        return {"object": "routing_config", "version": self.version, "config": self.raw, "note": self.note,
                "created": int(self.created_at.timestamp())}


def validated(raw: dict[str, Any], known_processors: list[str]) -> RoutingConfig:
    try:
        config = parse_config(raw)
    except ValueError as error:
        raise InvalidRequest(f"Invalid routing config: {error}", code="routing_config_invalid", param="config") from error
    unknown = sorted(set(config.processors) - set(known_processors))
    if unknown:
        raise InvalidRequest(f"Not configured on this basketpay: {', '.join(unknown)} (configured: "
                             f"{', '.join(known_processors)}).", code="routing_config_invalid", param="config")
    return config


class RoutingConfigs:
    def __init__(self, database: Database, known_processors: list[str]) -> None:
        self.database = database
        self.known_processors = known_processors
        self._cache: PerMerchant[Version | None] = PerMerchant(database, _latest)

    async def put(self, merchant_id: str, raw: dict[str, Any], note: str | None) -> Version:
        validated(raw, self.known_processors)
        async with self.database.transaction() as connection:
            # One writer per merchant at a time: versions are consecutive.
            await connection.execute("SELECT 1 FROM merchants WHERE id = %(m)s FOR UPDATE", {"m": merchant_id})
            latest = await _latest(connection, merchant_id)
            version = 1 if latest is None else latest.version + 1
            row = await (await connection.execute(
                "INSERT INTO routing_configs (id, merchant_id, version, config, note)"
                " VALUES (%(id)s, %(m)s, %(v)s, %(c)s, %(n)s) RETURNING *",
                {"id": new_id("rcfg"), "m": merchant_id, "v": version, "c": Jsonb(raw), "n": note})).fetchone()
            await audit.record(connection, audit.entry(f"merchant:{merchant_id}", "routing.config_changed",
                                                       merchant_id, detail={"version": version, "note": note}))
        self._cache.forget(merchant_id)
        return _version(row)

    async def rollback(self, merchant_id: str, version: int) -> Version:
        async with self.database.connection() as connection:
            row = await (await connection.execute(
                "SELECT * FROM routing_configs WHERE merchant_id = %(m)s AND version = %(v)s",
                {"m": merchant_id, "v": version})).fetchone()
        if row is None:
            raise NotFound(f"No routing config version {version}.", param="version")
        return await self.put(merchant_id, dict(row.config), f"rollback to version {version}")

    async def active(self, merchant_id: str, connection: AsyncConnection[Any] | None = None) -> Version | None:
        """The version in force (cached briefly: the payment path reads it every time);
        `connection`: one the caller holds (cache.py)."""
        return await self._cache.get(merchant_id, connection)

    async def versions(self, merchant_id: str, limit: int) -> list[Version]:
        async with self.database.connection() as connection:
            rows = await (await connection.execute(
                "SELECT * FROM routing_configs WHERE merchant_id = %(m)s ORDER BY version DESC LIMIT %(l)s",
                {"m": merchant_id, "l": limit})).fetchall()
        return [_version(row) for row in rows]


async def _latest(connection: AsyncConnection[Any], merchant_id: str) -> Version | None:
    row = await (await connection.execute(
        "SELECT * FROM routing_configs WHERE merchant_id = %(m)s ORDER BY version DESC LIMIT 1",
        {"m": merchant_id})).fetchone()
    return None if row is None else _version(row)


def _version(row: Any) -> Version:
    return Version(row.version, parse_config(dict(row.config)), dict(row.config), row.note, row.created_at)
