"""Creating merchants and secret keys, and authenticating a request's Bearer key.

Secret keys are 32 random base62 characters (about 190 bits), so a plain SHA-256
digest is a safe way to store them: there is nothing to brute-force. The clear key
is returned once, at creation. Authenticated keys are cached in process for
`auth_cache_seconds` (a revoked key stops working within that time).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from sqlalchemy import Connection

from basketpay.db.database import Database
from basketpay.errors import AuthenticationFailed
from basketpay.ids import new_id, new_secret
from basketpay.merchants.tables import api_keys, merchants

KEY_PREFIXES = ("sk_test_", "sk_live_")
_MERCHANT_FOR_KEY = "SELECT merchant_id FROM api_keys WHERE key_digest = %(digest)s AND revoked_at IS NULL"
AUTH_CACHE_ENTRIES_MAX = 10_000


@dataclass(frozen=True, slots=True)
class CreatedMerchant:
    merchant_id: str
    secret_key: str


def key_digest(secret_key: str) -> bytes:
    return hashlib.sha256(secret_key.encode()).digest()


def create_merchant(connection: Connection, name: str, livemode: bool = False) -> CreatedMerchant:
    merchant_id = new_id("acct")
    connection.execute(merchants.insert().values(id=merchant_id, name=name))
    return CreatedMerchant(merchant_id, create_key(connection, merchant_id, livemode))


def create_key(connection: Connection, merchant_id: str, livemode: bool = False) -> str:
    prefix = KEY_PREFIXES[1] if livemode else KEY_PREFIXES[0]
    secret_key = new_secret(prefix)
    connection.execute(
        api_keys.insert().values(
            id=new_id("key"), merchant_id=merchant_id, key_digest=key_digest(secret_key),
            key_prefix=prefix, key_last4=secret_key[-4:], livemode=livemode,
        )
    )
    return secret_key


def redact_key(secret_key: str) -> str:
    return secret_key[:8] + "…" + secret_key[-4:] if len(secret_key) > 12 else "…"


class Authenticator:
    def __init__(self, database: Database, cache_seconds: float) -> None:
        self._database = database
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, tuple[float, str]] = {}

    async def merchant_for(self, authorization: str | None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthenticationFailed(
                "You did not provide an API key. Send it as 'Authorization: Bearer sk_test_…'.",
                code="api_key_missing",
            )
        secret_key = authorization[len("Bearer ") :].strip()
        if not secret_key.startswith(KEY_PREFIXES):
            raise AuthenticationFailed("Invalid API key provided.", code="api_key_invalid")
        digest = key_digest(secret_key)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._database.connection() as connection:
            row = await (await connection.execute(_MERCHANT_FOR_KEY, {"digest": digest})).fetchone()
        merchant_id = None if row is None else str(row.merchant_id)
        if merchant_id is None:
            raise AuthenticationFailed(
                f"Invalid API key provided: {redact_key(secret_key)}", code="api_key_invalid"
            )
        if len(self._cache) >= AUTH_CACHE_ENTRIES_MAX:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + self._cache_seconds, merchant_id)
        return merchant_id
