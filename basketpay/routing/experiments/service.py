"""Routing experiments over live traffic: a merchant runs at most one at a time; each
payment is assigned an arm by hashing a stable unit (the customer, or the payment), routed
by that arm's configuration, and counted in that arm's outcomes once it has its answer. A
guardrail stops an arm whose authorization rate falls clearly short (its units then go to
the control arm). The test itself is read at the sample size fixed when it started."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from basketpay.audit import entries as audit
from basketpay.db.database import Database
from basketpay.errors import Conflict, InvalidRequest, NotFound
from basketpay.ids import new_id
from basketpay.routing.cache import PerMerchant
from basketpay.routing.configs import validated
from basketpay.routing.experiments.assignment import Arm, assign, check_arms
from basketpay.routing.experiments.stats import ArmOutcomes, GuardrailThreshold, guardrail, sample_size_per_arm
from basketpay.routing.experiments.tables import LATENCY_BUCKETS
from basketpay.routing.strategies import RoutingConfig, parse_config

GUARDRAIL_EVERY = 50  # payments between two guardrail checks of an arm (fewer for a small payments_min)


@dataclass(frozen=True, slots=True)
class ArmSpec:
    name: str
    share: int
    raw: dict[str, Any]
    config: RoutingConfig


@dataclass(frozen=True, slots=True)
class Experiment:
    id: str
    merchant_id: str
    name: str
    status: str
    unit: str
    arms: tuple[ArmSpec, ...]
    planned_sample_size: int
    guardrail: GuardrailThreshold
    stopped_arms: dict[str, str]
    created_at: Any

    @property
    def control(self) -> ArmSpec:
        return self.arms[0]

    def arm_for(self, unit: str) -> ArmSpec:
        """The unit's arm, always the same; the control instead of an arm the guardrail stopped."""
        name = assign(self.id, unit, [Arm(arm.name, arm.share) for arm in self.arms])
        return self.control if name in self.stopped_arms else next(arm for arm in self.arms if arm.name == name)


def _experiment(row: Any) -> Experiment:
    arms = tuple(ArmSpec(arm["name"], arm["share"], arm["config"], parse_config(arm["config"])) for arm in row.arms)
    return Experiment(row.id, row.merchant_id, row.name, row.status, row.unit, arms, row.planned_sample_size,
                      GuardrailThreshold(**row.guardrail), dict(row.stopped_arms), row.created_at)


def latency_bucket(latency_ms: float) -> int:
    """Buckets by powers of two: [0, 1) ms is 0, [1, 2) is 1, [2, 4) is 2, …"""
    return min(LATENCY_BUCKETS - 1, 0 if latency_ms < 1 else int(math.log2(latency_ms)) + 1)


class Experiments:
    def __init__(self, database: Database, known_processors: list[str]) -> None:
        self.database = database
        self.known_processors = known_processors
        self._cache: PerMerchant[Experiment | None] = PerMerchant(database, _running)

    async def create(self, merchant_id: str, params: Any) -> Experiment:
        arms = [Arm(arm.name, arm.share) for arm in params.arms]
        try:
            check_arms(arms)
        except ValueError as error:
            raise InvalidRequest(str(error), code="experiment_invalid", param="arms") from error
        for arm in params.arms:
            validated(arm.config, self.known_processors)
        planned = params.planned_sample_size or sample_size_per_arm(params.baseline_rate,
                                                                    params.minimum_detectable_effect)
        async with self.database.transaction() as connection:
            await connection.execute("SELECT 1 FROM merchants WHERE id = %(m)s FOR UPDATE", {"m": merchant_id})
            if await _running(connection, merchant_id) is not None:
                raise Conflict("An experiment is running already: stop it first.", code="experiment_running")
            row = await (await connection.execute(
                "INSERT INTO experiments (id, merchant_id, name, unit, arms, planned_sample_size, guardrail)"
                " VALUES (%(id)s, %(m)s, %(n)s, %(u)s, %(a)s, %(p)s, %(g)s) RETURNING *",
                {"id": new_id("exp"), "m": merchant_id, "n": params.name, "u": params.unit,
                 "a": Jsonb([arm.model_dump() for arm in params.arms]), "p": planned,
                 "g": Jsonb(params.guardrail.model_dump())})).fetchone()
            assert row is not None  # INSERT … RETURNING
            for arm in params.arms:
                await connection.execute(
                    "INSERT INTO experiment_outcomes (experiment_id, arm, latency_buckets) VALUES (%(e)s, %(a)s, %(b)s)",
                    {"e": row.id, "a": arm.name, "b": [0] * LATENCY_BUCKETS})
            await audit.record(connection, audit.entry(f"merchant:{merchant_id}", "routing.experiment_started", row.id))
        self._cache.forget(merchant_id)
        return _experiment(row)

    async def running(self, merchant_id: str, connection: AsyncConnection[Any] | None = None) -> Experiment | None:
        """The merchant's running experiment; `connection`: one the caller holds (cache.py)."""
        return await self._cache.get(merchant_id, connection)

    async def get(self, merchant_id: str, experiment_id: str) -> tuple[Experiment, dict[str, ArmOutcomes]]:
        async with self.database.connection() as connection:
            row = await (await connection.execute(
                "SELECT * FROM experiments WHERE id = %(id)s AND merchant_id = %(m)s",
                {"id": experiment_id, "m": merchant_id})).fetchone()
            if row is None:
                raise NotFound(f"No such experiment: {experiment_id!r}.", param="experiment")
            outcomes = await _outcomes(connection, experiment_id)
        return _experiment(row), outcomes

    async def stop(self, merchant_id: str, experiment_id: str) -> None:
        await self.get(merchant_id, experiment_id)
        async with self.database.transaction() as connection:
            await connection.execute("UPDATE experiments SET status = 'stopped', stopped_at = now() WHERE id = %(id)s",
                                     {"id": experiment_id})
            await audit.record(connection, audit.entry(f"merchant:{merchant_id}", "routing.experiment_stopped",
                                                       experiment_id))
        self._cache.forget(merchant_id)

    async def record(self, experiment: Experiment, arm: str, *, authorized: bool, amount: int, fee: int,
                     latency_ms: float, retries: int) -> None:
        """Count one payment's answer in its arm; every GUARDRAIL_EVERY payments, check the guardrail."""
        value = amount if authorized else 0
        async with self.database.transaction() as connection:
            row = await (await connection.execute(_RECORD, {
                "e": experiment.id, "a": arm, "ok": int(authorized), "v": value, "f": fee, "r": retries,
                "l": latency_ms, "b": latency_bucket(latency_ms) + 1})).fetchone()
            every = max(1, min(GUARDRAIL_EVERY, experiment.guardrail.payments_min // 2))
            if row is not None and arm != experiment.control.name and row.payments % every == 0:
                await self._guard(connection, experiment, arm)

    async def _guard(self, connection: AsyncConnection[Any], experiment: Experiment, arm: str) -> None:
        outcomes = await _outcomes(connection, experiment.id)
        verdict = guardrail(outcomes[arm], outcomes[experiment.control.name], experiment.guardrail)
        if verdict.stop:
            await connection.execute(
                "UPDATE experiments SET stopped_arms = stopped_arms || %(s)s WHERE id = %(id)s",
                {"s": Jsonb({arm: verdict.reason}), "id": experiment.id})
            await audit.record(connection, audit.entry("guardrail", "routing.experiment_arm_stopped", experiment.id,
                                                       detail={"arm": arm, "reason": verdict.reason}))
            self._cache.forget(experiment.merchant_id)


_RECORD = """
UPDATE experiment_outcomes SET payments = payments + 1, authorized = authorized + %(ok)s,
    authorized_amount = authorized_amount + %(v)s, fees = fees + %(f)s, retries = retries + %(r)s,
    fees_squared = fees_squared + %(f)s::numeric * %(f)s, authorized_amount_squared = authorized_amount_squared
        + %(v)s::numeric * %(v)s, fees_times_authorized_amount = fees_times_authorized_amount + %(f)s::numeric * %(v)s,
    latency_ms_sum = latency_ms_sum + %(l)s, latency_buckets[%(b)s] = latency_buckets[%(b)s] + 1
WHERE experiment_id = %(e)s AND arm = %(a)s RETURNING payments"""


async def _running(connection: AsyncConnection[Any], merchant_id: str) -> Experiment | None:
    row = await (await connection.execute(
        "SELECT * FROM experiments WHERE merchant_id = %(m)s AND status = 'running'", {"m": merchant_id})).fetchone()
    return None if row is None else _experiment(row)


async def _outcomes(connection: AsyncConnection[Any], experiment_id: str) -> dict[str, ArmOutcomes]:
    rows = await (await connection.execute("SELECT * FROM experiment_outcomes WHERE experiment_id = %(e)s",
                                           {"e": experiment_id})).fetchall()
    return {row.arm: _arm_outcomes(row) for row in rows}


def _arm_outcomes(row: Any) -> ArmOutcomes:
    arm = ArmOutcomes(row.payments, row.authorized, int(row.authorized_amount), int(row.fees), row.retries,
                      int(row.fees_squared), int(row.authorized_amount_squared),
                      int(row.fees_times_authorized_amount))
    for bucket, count in enumerate(row.latency_buckets):  # each latency at its bucket's middle
        middle = 0.5 if bucket == 0 else 1.5 * 2 ** (bucket - 1)
        for _ in range(min(count, arm.latency.samples_max)):
            arm.latency.add(middle)
    return arm
