"""The routing decision for one payment attempt: the merchant's configuration in force, the
processors' health (open breakers go last), and the strategy — in process, from memory, so
it costs microseconds on the payment path. No configuration: the default processor."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from psycopg import AsyncConnection

from basketpay.routing.configs import RoutingConfigs
from basketpay.routing.experiments.service import Experiments
from basketpay.routing.health import HealthBoard
from basketpay.routing.health_model import BreakerState
from basketpay.routing.model import AttemptContext, Candidate, Decision
from basketpay.routing.strategies import RoutingConfig, route


class Router:
    def __init__(self, configs: RoutingConfigs, health: HealthBoard, default_processor: str,
                 rng: random.Random | None = None, experiments: Experiments | None = None) -> None:
        self.configs = configs
        self.experiments = experiments
        self.health = health
        self.default_processor = default_processor
        self._rng = rng or random.Random()

    async def decide(self, context: AttemptContext, connection: AsyncConnection[Any] | None = None) -> Decision:
        """`connection`: one the caller holds, for the (cached) configuration reads."""
        experiments = self.experiments
        experiment = None if experiments is None else await experiments.running(context.merchant_id, connection)
        if experiment is not None:
            unit = context.customer if experiment.unit == "customer" and context.customer else context.payment
            arm = experiment.arm_for(unit or "anonymous")
            decision = await self._route(context, arm.config)
            return replace(decision, experiment_arm=f"{experiment.id}:{arm.name}")
        version = await self.configs.active(context.merchant_id, connection)
        if version is None:
            return Decision((Candidate(self.default_processor, "default"),), "default")
        return replace(await self._route(context, version.config), config_version=version.version)

    async def _route(self, context: AttemptContext, config: RoutingConfig) -> Decision:
        snapshot = self.health.snapshot()
        unavailable = {processor for processor in config.processors if not snapshot.allows(processor)}
        decision = route(context, config, snapshot, self._rng, unavailable)
        first = decision.candidates[0].processor
        if first not in unavailable and snapshot.state(first) is BreakerState.HALF_OPEN \
                and not await self.health.try_acquire_probe(first):
            # Its probes are taken (by any process): it goes last, like an open one.
            decision = route(context, config, snapshot, self._rng, unavailable | {first})
        return decision
