"""The sandbox processor as a connector.

Its books live in its own tables (basketpay's code never reads them), written in
their own transactions, so they outlive a crash of the basketpay process as a real
processor's would. Every call carries a processor-side idempotency key: the same
key returns the stored result, so a retried call never charges twice, and
`inquire` finds what a crashed basketpay process never heard back. Same-key calls
are serialized by the unique key itself: the second insert waits for the first
transaction and then finds the stored result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from basketpay.connectors.base import AttemptView, Card, Outcome, ProcessorResult
from basketpay.connectors.sandbox.cards import OVER_LIMIT, decline_for, over_limit
from basketpay.db.database import Database
from basketpay.ids import new_id
from basketpay.invariant import InvariantViolation

Decide = Callable[[Any], tuple[ProcessorResult, dict[str, Any]]]

_AUTHORIZE = """
WITH operation AS (
    INSERT INTO sandbox_operations (idempotency_key, operation, charge_id, result)
    VALUES (%(key)s, %(operation)s, %(charge_id)s, %(result)s)
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1
), charge AS (
    INSERT INTO sandbox_charges (id, status, currency, card_last4, amount_authorized, amount_captured,
                                 amount_refunded, merchant_reference)
    SELECT %(charge_id)s, %(status)s, %(currency)s, %(last4)s, %(amount)s, %(captured)s, 0, %(reference)s
    WHERE %(approved)s AND EXISTS (SELECT 1 FROM operation)
)
SELECT count(*) AS fresh FROM operation"""

_CLAIM_AND_LOCK = """
WITH operation AS (
    INSERT INTO sandbox_operations (idempotency_key, operation, charge_id, result)
    VALUES (%(key)s, %(operation)s, %(charge_id)s, '{"outcome": "unknown"}')
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1
)
SELECT (SELECT count(*) FROM operation) AS fresh, charge.*
FROM sandbox_charges charge WHERE charge.id = %(charge_id)s
FOR UPDATE"""

_RECORD = """
WITH stored AS (
    UPDATE sandbox_operations SET result = %(result)s WHERE idempotency_key = %(key)s
)
UPDATE sandbox_charges SET status = %(status)s, amount_authorized = %(authorized)s,
    amount_captured = %(captured)s, amount_refunded = %(refunded)s, updated_at = now()
WHERE id = %(charge_id)s"""

_STORED = "SELECT result FROM sandbox_operations WHERE idempotency_key = %(key)s"


def _to_json(result: ProcessorResult) -> Jsonb:
    return Jsonb({
        "outcome": result.outcome.value, "processor_reference": result.processor_reference, "amount": result.amount,
        "error_code": result.error_code, "decline_code": result.decline_code, "message": result.message,
    })


def _from_json(data: dict[str, Any]) -> ProcessorResult:
    return ProcessorResult(**{**data, "outcome": Outcome(data["outcome"])})


def _failed(code: str, message: str) -> tuple[ProcessorResult, dict[str, Any]]:
    return ProcessorResult(Outcome.FAILED, error_code=code, message=message), {}


class SandboxConnector:
    name = "sandbox"

    def __init__(self, database: Database) -> None:
        self._database = database

    async def _stored(self, connection: AsyncConnection[Any], key: str) -> ProcessorResult:
        row = await (await connection.execute(_STORED, {"key": key})).fetchone()
        if row is None:
            raise InvariantViolation("a claimed key has a stored operation")
        return _from_json(row.result)

    async def authorize(
        self, *, idempotency_key: str, amount: int, currency: str, card: Card, capture: bool, merchant_reference: str,
    ) -> ProcessorResult:
        decline = decline_for(card.number, amount)
        charge_id = new_id("sbx_ch")
        if decline is not None:
            result = ProcessorResult(
                Outcome.DECLINED, None, amount, decline.error_code, decline.decline_code, decline.message
            )
        else:
            result = ProcessorResult(Outcome.SUCCEEDED, charge_id, amount)
        params = {
            "key": idempotency_key, "operation": "sale" if capture else "authorize",
            "charge_id": charge_id if decline is None else None, "result": _to_json(result),
            "status": "captured" if capture else "authorized", "currency": currency, "last4": card.number[-4:],
            "amount": amount, "captured": amount if capture else 0, "reference": merchant_reference,
            "approved": decline is None,
        }
        async with self._database.connection() as connection:
            row = await (await connection.execute(_AUTHORIZE, params)).fetchone()
            return result if row is not None and row.fresh else await self._stored(connection, idempotency_key)

    async def _modify(self, key: str, operation: str, charge_id: str, decide: Decide) -> ProcessorResult:
        """Claim the key and lock the charge in one statement, decide, record: one transaction."""
        async with self._database.transaction() as connection:
            params = {"key": key, "operation": operation, "charge_id": charge_id}
            row = await (await connection.execute(_CLAIM_AND_LOCK, params)).fetchone()
            if row is None:  # no such charge: was the key claimed by this call, or before?
                stored = await self._stored(connection, key)
                if stored.outcome is not Outcome.UNKNOWN:
                    return stored
                result, charge = _failed("charge_missing", "No such charge.")
            elif not row.fresh:
                return await self._stored(connection, key)
            else:
                result, charge = decide(row)
            record = {"key": key, "result": _to_json(result), "charge_id": charge_id}
            if charge:
                await connection.execute(_RECORD, {**record, **charge})
            else:
                await connection.execute("UPDATE sandbox_operations SET result = %(result)s WHERE idempotency_key = %(key)s", record)
            return result

    @staticmethod
    def _charge(row: Any, **changes: Any) -> dict[str, Any]:
        values = {"status": row.status, "authorized": row.amount_authorized, "captured": row.amount_captured,
                  "refunded": row.amount_refunded}
        return {**values, **changes}

    async def capture(
        self, *, idempotency_key: str, processor_reference: str, amount: int, final: bool, currency: str | None = None
    ) -> ProcessorResult:
        def decide(charge: Any) -> tuple[ProcessorResult, dict[str, Any]]:
            remaining = charge.amount_authorized - charge.amount_captured
            if charge.status != "authorized":
                return _failed("charge_not_capturable", "The charge cannot be captured.")
            if amount > remaining:
                return _failed("amount_too_large", "Capture exceeds the authorized amount.")
            status = "captured" if final or amount == remaining else "authorized"
            changes = self._charge(charge, status=status, captured=charge.amount_captured + amount)
            return ProcessorResult(Outcome.SUCCEEDED, charge.id, amount), changes

        return await self._modify(idempotency_key, "capture", processor_reference, decide)

    async def increment_authorization(
        self, *, idempotency_key: str, processor_reference: str, amount_total: int, currency: str | None = None
    ) -> ProcessorResult:
        def decide(charge: Any) -> tuple[ProcessorResult, dict[str, Any]]:
            if charge.status != "authorized":
                return _failed("charge_not_incrementable", "The authorization cannot be increased.")
            if amount_total <= charge.amount_authorized:
                return _failed("amount_too_small", "The new total must exceed the authorized amount.")
            if over_limit(charge.card_last4, amount_total):
                return ProcessorResult(Outcome.DECLINED, charge.id, amount_total, OVER_LIMIT.error_code,
                                       OVER_LIMIT.decline_code, OVER_LIMIT.message), {}
            return ProcessorResult(Outcome.SUCCEEDED, charge.id, amount_total), self._charge(charge, authorized=amount_total)

        return await self._modify(idempotency_key, "increment_authorization", processor_reference, decide)

    async def void(self, *, idempotency_key: str, processor_reference: str) -> ProcessorResult:
        def decide(charge: Any) -> tuple[ProcessorResult, dict[str, Any]]:
            if charge.status != "authorized":
                return _failed("charge_not_voidable", "The charge cannot be voided.")
            released = charge.amount_authorized - charge.amount_captured
            return ProcessorResult(Outcome.SUCCEEDED, charge.id, released), self._charge(charge, status="voided")

        return await self._modify(idempotency_key, "void", processor_reference, decide)

    async def refund(
        self, *, idempotency_key: str, processor_reference: str, amount: int, currency: str | None = None
    ) -> ProcessorResult:
        def decide(charge: Any) -> tuple[ProcessorResult, dict[str, Any]]:
            if amount > charge.amount_captured - charge.amount_refunded:
                return _failed("amount_too_large", "Refund exceeds the captured amount.")
            changes = self._charge(charge, refunded=charge.amount_refunded + amount)
            return ProcessorResult(Outcome.SUCCEEDED, charge.id, amount), changes

        return await self._modify(idempotency_key, "refund", processor_reference, decide)

    async def inquire(self, attempt: AttemptView) -> ProcessorResult | None:
        async with self._database.connection() as connection:
            row = await (await connection.execute(_STORED, {"key": attempt.processor_idempotency_key})).fetchone()
        return None if row is None else _from_json(row.result)

    async def cancel_unconfirmed(self, attempt: AttemptView) -> ProcessorResult:
        """This sandbox always knows (`inquire` is definitive), so this is only reached by a
        caller that gave up anyway: void what the key authorized, if anything."""
        found = await self.inquire(attempt)
        if found is None or found.outcome is not Outcome.SUCCEEDED or found.processor_reference is None:
            return ProcessorResult(Outcome.SUCCEEDED, message="Nothing was authorized under this key.")
        return await self.void(idempotency_key=f"{attempt.processor_idempotency_key}:cancel",
                               processor_reference=found.processor_reference)
