"""Prometheus metrics of routing: processor health as the routers see it. Registered in the
default registry, so `basketpay.observability.metrics.render_metrics` exports them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from basketpay.routing.health_model import BreakerState

BREAKER_STATE_CODES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

BREAKER_STATE = Gauge(
    "basketpay_routing_breaker_state",
    "Circuit breaker per processor as each live process last saw it: 0 closed, 1 half-open, 2 open "
    "(max over processes, so one process seeing it open shows).",
    ["processor"],
    multiprocess_mode="livemax",
)

BREAKER_TRANSITIONS = Counter(
    "basketpay_routing_breaker_transitions_total",
    "Circuit breaker transitions, counted once, by the process that made each.",
    ["processor", "from_state", "to_state"],
)

BREAKER_PROBES = Counter(
    "basketpay_routing_breaker_probes_total",
    "Probe calls asked for while a breaker was not closed, by whether one was granted.",
    ["processor", "granted"],
)

ATTEMPT_LATENCY = Histogram(
    "basketpay_routing_attempt_duration_seconds",
    "Latency of the attempts processor health was told about, by processor and outcome.",
    ["processor", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

HEALTH_STORE_FAILURES = Counter(
    "basketpay_routing_health_store_failures_total",
    "Health store operations that failed (routing carried on without them), by operation.",
    ["operation"],
)
