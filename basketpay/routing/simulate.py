"""`basketpay simulate routing`: the same seeded traffic (simulate_traffic) through the HTTP API
once per routing strategy (simulate_processors), against the Stripe- and Adyen-compatible
sandboxes, with stripe down for the middle fifth of every run (simulate_run drives one run);
the report (simulate_report) compares each strategy with the stripe-only baseline.

Each strategy gets a new merchant and a new API server process: processor health (the
bandit's evidence, the breakers) is kept per process, and a strategy must not start with
what the one before it learnt. The sandboxes' behaviour is reset to the same seed before
each run. A run compresses hours of traffic into seconds, so the breaker's window and
cool-down are scaled down with it (half a second each instead of 30 s)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx
from rich.console import Console

from basketpay.db.engine import create_sync_engine
from basketpay.db.migrate import migrate
from basketpay.merchants.service import create_merchant
from basketpay.routing.fees import parse_fee_model
from basketpay.routing.simulate_processors import BASELINE, PROCESSORS, behaviour, routing_configs
from basketpay.routing.simulate_report import StrategyResult
from basketpay.routing.simulate_run import REQUEST_TIMEOUT_SECONDS, Run, drive
from basketpay.routing.simulate_traffic import SimulatedPayment, traffic
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from basketpay.settings import Settings

__all__ = ["SimulationOptions", "run_simulation"]

SIMULATED_ENV = {  # the breaker scaled to the compressed run; processors' search answers at once
    "BASKETPAY_ROUTING_BREAKER_WINDOW_SECONDS": "0.5", "BASKETPAY_ROUTING_BREAKER_COOLDOWN_SECONDS": "0.5",
    "BASKETPAY_ROUTING_BREAKER_CALLS_MIN": "10", "BASKETPAY_STRIPE_SEARCH_GRACE_SECONDS": "0",
    "BASKETPAY_STRIPE_SECRET_KEY": "sk_test_simulate", "BASKETPAY_ADYEN_API_KEY": "simulate",
}
OUTAGE_PROCESSOR = "stripe"


@dataclass(frozen=True, slots=True)
class SimulationOptions:
    payments: int = 2_000
    seed: int = 1
    concurrency: int = 8
    strategies: tuple[str, ...] = tuple(routing_configs())  # the baseline always runs, first
    outage_shares: tuple[float, float] = (0.4, 0.6)  # the outage's start and end, as shares of the run

    def outage(self) -> range:
        """The payments sent while the outage processor is down."""
        return range(int(self.payments * self.outage_shares[0]), int(self.payments * self.outage_shares[1]))


def run_simulation(settings: Settings, options: SimulationOptions, console: Console,
                   base_env: dict[str, str] | None = None) -> list[StrategyResult]:
    """Every strategy in `options` (the baseline first) on the same traffic; `base_env` is
    the API servers' environment (default: this data directory)."""
    names = [BASELINE, *(name for name in options.strategies if name != BASELINE)]
    payments = traffic(options.payments, options.seed)
    url = migrate(settings)
    keys = _merchant_keys(settings, names)
    sandboxes = SandboxProcesses().start()
    # Each strategy starts with no health of its own: never shared through Redis, even when configured.
    env = {**(base_env or {"BASKETPAY_DATA_DIR": str(settings.data_dir)}), **SIMULATED_ENV, "BASKETPAY_REDIS_URL": "",
           "BASKETPAY_STRIPE_API_BASE": sandboxes.urls["stripe"], "BASKETPAY_ADYEN_API_BASE": sandboxes.urls["adyen"]}
    try:
        return [_run_strategy(name, ServerProcess(url, env=env, log_path=settings.data_dir / "simulate-server.log"),
                              keys[name], sandboxes.urls, payments, options, console) for name in names]
    finally:
        sandboxes.stop()


def _merchant_keys(settings: Settings, names: list[str]) -> dict[str, str]:
    """A new merchant per strategy (its own routing configuration); their secret keys."""
    engine = create_sync_engine(settings)
    try:
        with engine.begin() as connection:
            run = uuid.uuid4().hex[:8]
            return {name: create_merchant(connection, f"simulate {run} {name}").secret_key for name in names}
    finally:
        engine.dispose()


def _reset_sandboxes(urls: dict[str, str], seed: int) -> None:
    """Each processor's behaviour from the same seed (each its own stream), and no outage."""
    for offset, processor in enumerate(PROCESSORS):
        httpx.post(f"{urls[processor]}/__sandbox/behaviour", json=behaviour(processor, seed + offset)).raise_for_status()
        httpx.post(f"{urls[processor]}/__sandbox/faults", json={"outage": False}).raise_for_status()


def _run_strategy(name: str, server: ServerProcess, secret_key: str, urls: dict[str, str],
                  payments: list[SimulatedPayment], options: SimulationOptions, console: Console) -> StrategyResult:
    _reset_sandboxes(urls, options.seed)
    server.start()
    try:
        config = routing_configs()[name]
        httpx.post(f"{server.base_url}/v1/routing/config", json={"config": config, "note": f"simulate: {name}"},
                   headers={"Authorization": f"Bearer {secret_key}"}, timeout=REQUEST_TIMEOUT_SECONDS).raise_for_status()
        fees = {processor: parse_fee_model(model, processor) for processor, model in config["fees"].items()}
        run = Run(server.base_url, secret_key, f"{urls[OUTAGE_PROCESSOR]}/__sandbox/faults", options.outage(), fees,
                  StrategyResult(name))
        run.result.elapsed_seconds = asyncio.run(drive(run, payments, options.concurrency, console))
    finally:
        server.stop()
    return run.result
