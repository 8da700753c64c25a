"""The orders API's operations, and the one entry point the order workflows call."""

from __future__ import annotations

from typing import Any

import structlog

from basketpay.db.pagination import PageRequest, fetch_page
from basketpay.orders import repository
from basketpay.orders.changes import Changes
from basketpay.orders.checkout import Checkout, merged_policy
from basketpay.orders.delivery import Delivery
from basketpay.orders.engine import OrderEngine
from basketpay.orders.growth import Growth
from basketpay.orders.reauthorization import Reauthorization
from basketpay.orders.record import OrderRecord
from basketpay.orders.returns import Returns
from basketpay.orders.serializers import order_json
from basketpay.orders.tables import orders
from basketpay.orders.tenders import TenderKind
from basketpay.orders.tips import Tips

log = structlog.get_logger(__name__)


class OrderService:
    def __init__(self, engine: OrderEngine) -> None:
        self.engine = engine
        self.checkout = Checkout(engine)
        self.changes = Changes(engine)
        self.growth = Growth(engine, self.changes)
        self.reauthorization = Reauthorization(engine, self.changes)
        self.tips = Tips(engine)
        self.delivery = Delivery(engine, self.changes, self.growth, self.tips)
        self.returns = Returns(engine, self.delivery)

    async def run_milestone(self, milestone: str, order_id: str, argument: str | None, workflow_id: str) -> str:
        """What an order workflow does, by milestone (each is safe to run again)."""
        outcome = await self._run(milestone, order_id, argument, workflow_id)
        log.info("order_milestone", milestone=milestone, order=order_id, workflow=workflow_id, outcome=outcome)
        return outcome

    async def _run(self, milestone: str, order_id: str, argument: str | None, workflow_id: str) -> str:
        if milestone == "deliver":
            return await self.delivery.deliver(order_id, workflow_id)
        if milestone == "tip":
            return await self.tips.charge_tip(order_id, workflow_id, str(argument))
        if milestone == "refund":
            return await self.returns.refund(order_id, workflow_id, str(argument))
        if milestone == "cancel":
            return await self.returns.cancel(order_id, workflow_id)
        if milestone == "grow":
            return await self.growth.grow(order_id, workflow_id)
        if milestone == "action_timeout":
            return await self.changes.action_timeout(order_id, workflow_id, str(argument))
        if milestone == "reauthorize":
            return await self.reauthorization.reauthorize(order_id, workflow_id, str(argument))
        raise ValueError(f"unknown order milestone {milestone!r}")

    async def retrieve(self, merchant_id: str, order_id: str) -> dict[str, Any]:
        async with self.engine.database.connection() as connection:
            record = await repository.load(connection, merchant_id, order_id, lock=False)
            body = order_json(record)
            body["ledger_entries"] = await self._ledger_entries(connection, record)
        return body

    async def _ledger_entries(self, connection: Any, record: OrderRecord) -> list[dict[str, Any]]:
        """The entries behind the order: its own, and those of its card payments and ledger holds."""
        objects = [record.id, *(charge["id"] for charge in record.tip.charges),
                   *(item.id for tender in record.tenders for item in tender.authorizations
                     if tender.kind in (TenderKind.CARD, TenderKind.CREDIT, TenderKind.GIFT_CARD))]
        rows = await (await connection.execute(
            "SELECT id FROM ledger_entries WHERE merchant_id = %(m)s AND object_id = ANY(%(objects)s) ORDER BY seq",
            {"m": record.merchant_id, "objects": objects})).fetchall()
        entries = await self.engine.ledger.load_entries(connection, [row.id for row in rows])
        return [entries[row.id] for row in rows]

    async def list_orders(self, merchant_id: str, page: PageRequest) -> tuple[list[dict[str, Any]], bool]:
        async with self.engine.database.connection() as connection:
            rows, has_more = await fetch_page(connection, orders, merchant_id, page)
        return [order_json(OrderRecord.from_row(row)) for row in rows], has_more

    async def policy(self, merchant_id: str) -> dict[str, Any]:
        async with self.engine.database.connection() as connection:
            custom = await repository.policy_for(connection, merchant_id) or {}
        return _policy_json(merged_policy(self.engine.default_policy(), custom))

    async def set_policy(self, merchant_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        async with self.engine.database.transaction() as connection:
            custom = await repository.policy_for(connection, merchant_id) or {}
            await repository.put_policy(connection, merchant_id, {**custom, **changes})
        return await self.policy(merchant_id)


def _policy_json(policy: Any) -> dict[str, Any]:
    return {"object": "order_policy", **{name: getattr(policy, name) for name in policy.__dataclass_fields__}}
