"""Prometheus metrics. With several server processes, PROMETHEUS_MULTIPROC_DIR makes
them aggregate across processes (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_LATENCY = Histogram(
    "basketpay_http_request_duration_seconds",
    "HTTP request latency by route template, method and status code.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

PAYMENT_OUTCOMES = Counter(
    "basketpay_processor_attempts_total",
    "Processor attempts by operation, outcome, connector and decline code.",
    ["operation", "outcome", "connector", "decline_code"],
)

PROCESSOR_LATENCY = Histogram(
    "basketpay_processor_call_duration_seconds",
    "Latency of processor calls by connector and operation.",
    ["connector", "operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)

SWEEPER_RESOLUTIONS = Counter(
    "basketpay_sweeper_resolutions_total",
    "In-flight attempts the sweeper resolved, by how.",
    ["resolution"],
)


def render_metrics() -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
