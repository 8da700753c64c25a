"""The sandbox processor as a connector.

Each call is one transaction on the sandbox's own tables, serialized per
processor-side idempotency key with an advisory lock: the same key returns the
stored result (as a real processor does), so a retried call never charges twice,
and `inquire` finds what a crashed basketpay process never heard back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from basketpay.connectors.base import Card, Outcome, ProcessorResult
from basketpay.connectors.sandbox.cards import decline_for
from basketpay.connectors.sandbox.tables import sandbox_charges, sandbox_operations
from basketpay.ids import new_id

Operation = Callable[[AsyncConnection], Awaitable[tuple[ProcessorResult, str | None]]]


def _to_json(result: ProcessorResult) -> dict[str, Any]:
    return {
        "outcome": result.outcome.value,
        "processor_reference": result.processor_reference,
        "amount": result.amount,
        "error_code": result.error_code,
        "decline_code": result.decline_code,
        "message": result.message,
    }


def _from_json(data: dict[str, Any]) -> ProcessorResult:
    return ProcessorResult(**{**data, "outcome": Outcome(data["outcome"])})


def _failed(code: str, message: str) -> tuple[ProcessorResult, None]:
    return ProcessorResult(Outcome.FAILED, error_code=code, message=message), None


class SandboxConnector:
    name = "sandbox"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _run(self, idempotency_key: str, operation_name: str, operation: Operation) -> ProcessorResult:
        async with self._engine.begin() as connection:
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": idempotency_key}
            )
            stored = await connection.scalar(
                select(sandbox_operations.c.result).where(
                    sandbox_operations.c.idempotency_key == idempotency_key
                )
            )
            if stored is not None:
                return _from_json(stored)
            result, charge_id = await operation(connection)
            await connection.execute(
                insert(sandbox_operations).values(
                    idempotency_key=idempotency_key,
                    operation=operation_name,
                    charge_id=charge_id,
                    result=_to_json(result),
                )
            )
            return result

    async def _charge_for_update(self, connection: AsyncConnection, charge_id: str) -> Any:
        query = select(sandbox_charges).where(sandbox_charges.c.id == charge_id).with_for_update()
        return (await connection.execute(query)).one_or_none()

    async def _update_charge(self, connection: AsyncConnection, charge_id: str, **values: Any) -> None:
        await connection.execute(
            sandbox_charges.update()
            .where(sandbox_charges.c.id == charge_id)
            .values(updated_at=func.now(), **values)
        )

    async def authorize(
        self, *, idempotency_key: str, amount: int, currency: str, card: Card, capture: bool,
        merchant_reference: str,
    ) -> ProcessorResult:
        async def operation(connection: AsyncConnection) -> tuple[ProcessorResult, str | None]:
            decline = decline_for(card.number)
            if decline is not None:
                result = ProcessorResult(
                    Outcome.DECLINED, None, amount, decline.error_code, decline.decline_code,
                    decline.message,
                )
                return result, None
            charge_id = new_id("sbx_ch")
            await connection.execute(
                sandbox_charges.insert().values(
                    id=charge_id, status="captured" if capture else "authorized",
                    currency=currency, card_last4=card.number[-4:], amount_authorized=amount,
                    amount_captured=amount if capture else 0, amount_refunded=0,
                    merchant_reference=merchant_reference,
                )
            )
            return ProcessorResult(Outcome.SUCCEEDED, charge_id, amount), charge_id

        return await self._run(idempotency_key, "sale" if capture else "authorize", operation)

    async def capture(
        self, *, idempotency_key: str, processor_reference: str, amount: int, final: bool
    ) -> ProcessorResult:
        async def operation(connection: AsyncConnection) -> tuple[ProcessorResult, str | None]:
            charge = await self._charge_for_update(connection, processor_reference)
            if charge is None or charge.status != "authorized":
                return _failed("charge_not_capturable", "The charge cannot be captured.")
            remaining = charge.amount_authorized - charge.amount_captured
            if amount > remaining:
                return _failed("amount_too_large", "Capture exceeds the authorized amount.")
            status = "captured" if final or amount == remaining else "authorized"
            await self._update_charge(
                connection, charge.id, status=status, amount_captured=charge.amount_captured + amount
            )
            return ProcessorResult(Outcome.SUCCEEDED, charge.id, amount), charge.id

        return await self._run(idempotency_key, "capture", operation)

    async def increment_authorization(
        self, *, idempotency_key: str, processor_reference: str, amount_total: int
    ) -> ProcessorResult:
        async def operation(connection: AsyncConnection) -> tuple[ProcessorResult, str | None]:
            charge = await self._charge_for_update(connection, processor_reference)
            if charge is None or charge.status != "authorized":
                return _failed("charge_not_incrementable", "The authorization cannot be increased.")
            if amount_total <= charge.amount_authorized:
                return _failed("amount_too_small", "The new total must exceed the authorized amount.")
            await self._update_charge(connection, charge.id, amount_authorized=amount_total)
            return ProcessorResult(Outcome.SUCCEEDED, charge.id, amount_total), charge.id

        return await self._run(idempotency_key, "increment_authorization", operation)

    async def void(self, *, idempotency_key: str, processor_reference: str) -> ProcessorResult:
        async def operation(connection: AsyncConnection) -> tuple[ProcessorResult, str | None]:
            charge = await self._charge_for_update(connection, processor_reference)
            if charge is None or charge.status != "authorized":
                return _failed("charge_not_voidable", "The charge cannot be voided.")
            await self._update_charge(connection, charge.id, status="voided")
            released = charge.amount_authorized - charge.amount_captured
            return ProcessorResult(Outcome.SUCCEEDED, charge.id, released), charge.id

        return await self._run(idempotency_key, "void", operation)

    async def refund(
        self, *, idempotency_key: str, processor_reference: str, amount: int
    ) -> ProcessorResult:
        async def operation(connection: AsyncConnection) -> tuple[ProcessorResult, str | None]:
            charge = await self._charge_for_update(connection, processor_reference)
            if charge is None or amount > charge.amount_captured - charge.amount_refunded:
                return _failed("amount_too_large", "Refund exceeds the captured amount.")
            await self._update_charge(
                connection, charge.id, amount_refunded=charge.amount_refunded + amount
            )
            return ProcessorResult(Outcome.SUCCEEDED, charge.id, amount), charge.id

        return await self._run(idempotency_key, "refund", operation)

    async def inquire(self, *, idempotency_key: str) -> ProcessorResult | None:
        async with self._engine.connect() as connection:
            stored = await connection.scalar(
                select(sandbox_operations.c.result).where(
                    sandbox_operations.c.idempotency_key == idempotency_key
                )
            )
        return None if stored is None else _from_json(stored)
