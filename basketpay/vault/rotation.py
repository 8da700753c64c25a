"""Rotating the key-encryption key while the service runs.

1. A new key joins the keyring and becomes active; processes pick it up on their
   next vault call (keyring.py), so new cards are wrapped under it.
2. Every data key still wrapped under an older key is re-wrapped, in bounded
   batches, each batch one transaction with its rows locked (SKIP LOCKED: a row in
   use is taken on a later pass). Ciphertexts never change, and every key stays in
   the keyring, so any card decrypts at every moment.
3. Passes repeat until no row is left under an old key (a process that had not yet
   reloaded may still wrap a card under the old key meanwhile).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog

from basketpay.audit import entries as audit
from basketpay.db.database import Database
from basketpay.vault.crypto import Sealed
from basketpay.vault.keyring import Keyring

log = structlog.get_logger(__name__)

BATCH_SIZE_MAX = 500
PASSES_MAX = 1000
PASS_PAUSE_SECONDS = 0.2

_STALE = """
SELECT id, key_id, wrapped_data_key FROM payment_methods WHERE key_id = ANY(%(old)s)
ORDER BY seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED"""
_REMAINING = "SELECT count(*) AS n FROM payment_methods WHERE key_id = ANY(%(old)s)"
# Rows under a key this keyring does not hold cannot be re-wrapped (nor read): counted
# and reported, never guessed at.
_UNKNOWN = "SELECT count(*) AS n FROM payment_methods WHERE NOT key_id = ANY(%(known)s)"
_UPDATE = "UPDATE payment_methods SET key_id = %(key_id)s, wrapped_data_key = %(wrapped)s WHERE id = %(id)s"


@dataclass(slots=True)
class RotationReport:
    new_key_id: str
    rewrapped: int
    passes: int
    keys_in_keyring: int
    rows_under_unknown_keys: int


def _old_key_ids(keyring: Keyring) -> list[str]:
    return [key_id for key_id in keyring.key_ids if key_id != keyring.active.key_id]


async def _rewrap_batch(database: Database, keyring: Keyring) -> int:
    async with database.transaction() as connection:
        params = {"old": _old_key_ids(keyring), "limit": BATCH_SIZE_MAX}
        rows = await (await connection.execute(_STALE, params)).fetchall()
        updates: list[dict[str, Any]] = []
        for row in rows:
            sealed = keyring.rewrap(Sealed(row.key_id, bytes(row.wrapped_data_key), b""), row.id.encode())
            updates.append({"key_id": sealed.key_id, "wrapped": sealed.wrapped_data_key, "id": row.id})
        if updates:
            async with connection.cursor() as cursor:
                await cursor.executemany(_UPDATE, updates)
        return len(updates)


async def _count(database: Database, query: str, params: dict[str, Any]) -> int:
    async with database.connection() as connection:
        row = await (await connection.execute(query, params)).fetchone()
    return 0 if row is None else int(row.n)


async def rotate_key(database: Database, keyring: Keyring, actor: str) -> RotationReport:
    new_key = keyring.rotate()
    rewrapped = passes = 0
    while passes < PASSES_MAX:
        passes += 1
        rewrapped += await _rewrap_batch(database, keyring)
        if await _count(database, _REMAINING, {"old": _old_key_ids(keyring)}) == 0:
            break
        await asyncio.sleep(PASS_PAUSE_SECONDS)
    unknown = await _count(database, _UNKNOWN, {"known": keyring.key_ids})
    if unknown:
        log.error("vault_rows_under_unknown_keys", rows=unknown)
    report = RotationReport(new_key.key_id, rewrapped, passes, len(keyring.key_ids), unknown)
    async with database.connection() as connection:
        detail = {"rewrapped": rewrapped, "passes": passes, "rows_under_unknown_keys": unknown}
        await audit.record(connection, audit.entry(actor, "vault.rotate_key", new_key.key_id, detail=detail))
    return report
