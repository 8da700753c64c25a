"""Operations surface: metrics, OpenAPI, logs free of card data and secrets, rate limits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from basketpay.server import ServerProcess
from tests.conftest import server_env
from tests.helpers import card, post

PAN = "4000000000009995"


def test_metrics_expose_latency_and_outcomes(client: httpx.Client, server: ServerProcess) -> None:
    post(client, "/v1/payment_intents", {"amount": 500, "currency": "usd", "payment_method": card(client, PAN), "confirm": True})
    text = httpx.get(server.base_url + "/metrics").text
    assert 'basketpay_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/payment_intents"' in text
    assert 'basketpay_processor_attempts_total{connector="sandbox",decline_code="insufficient_funds",operation="sale",outcome="declined"}' in text


def test_openapi_documents_every_endpoint_and_error(server: ServerProcess) -> None:
    spec = httpx.get(server.base_url + "/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/v1/payment_intents", "/v1/payment_intents/{intent_id}", "/v1/payment_intents/{intent_id}/confirm",
        "/v1/payment_intents/{intent_id}/capture", "/v1/payment_intents/{intent_id}/increment_authorization",
        "/v1/payment_intents/{intent_id}/cancel", "/v1/refunds", "/v1/refunds/{refund_id}", "/v1/payment_methods",
    ):
        assert path in paths, path
    capture = paths["/v1/payment_intents/{intent_id}/capture"]["post"]["responses"]
    assert {"200", "202", "400", "401", "402", "404", "409", "422", "429"} <= set(capture)
    assert spec["components"]["securitySchemes"]["secretKey"]["scheme"] == "bearer"
    assert paths["/v1/refunds"]["post"]["security"] == [{"secretKey": []}]
    assert httpx.get(server.base_url + "/docs").status_code == 200


def test_logs_never_hold_card_numbers_cvcs_or_keys(
    client: httpx.Client, server_log: Path, merchant: tuple[str, str], server: ServerProcess
) -> None:
    payment_method = card(client, PAN, cvc="987")
    post(client, "/v1/payment_intents", {"amount": 700, "currency": "usd", "payment_method": payment_method, "confirm": True})
    post(client, "/v1/payment_methods", {"type": "card", "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": 2030}})
    post(client, "/v1/payment_intents", {"amount": 700, "currency": "usd", "metadata": {"note": PAN}})
    httpx.get(server.base_url + "/v1/payment_intents", headers={"Authorization": f"Bearer {merchant[1]}x"})
    log = server_log.read_text()
    assert '"route": "/v1/payment_methods"' in log  # the log is really being captured
    for secret in (PAN, "4242424242424241", merchant[1], merchant[1][8:], '"cvc"'):
        assert secret not in log, secret
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    values = [value for line in lines for value in line.values()]
    assert "987" not in values and 987 not in values  # the CVC, as a value of any field


def test_requests_beyond_the_rate_limit_get_429(database_url: str, data_dir: Path, merchant: tuple[str, str]) -> None:
    env = server_env(data_dir, BASKETPAY_RATE_LIMIT_REQUESTS_PER_SECOND="1", BASKETPAY_RATE_LIMIT_BURST_MAX="3")
    limited = ServerProcess(database_url, env=env, log_path=data_dir / "limited.log").start()
    try:
        with httpx.Client(base_url=limited.base_url, headers={"Authorization": f"Bearer {merchant[1]}"}) as http:
            statuses = [http.get("/v1/payment_intents").status_code for _ in range(6)]
            assert statuses[:3] == [200, 200, 200]
            assert 429 in statuses[3:]
            limited_response = http.get("/v1/payment_intents")
            assert limited_response.json()["error"]["type"] == "rate_limit_error"
            assert limited_response.headers["Retry-After"]
    finally:
        limited.stop()


def test_the_rate_limit_holds_across_api_processes_through_redis(database_url: str, data_dir: Path,
                                                                  merchant: tuple[str, str]) -> None:
    """Two API processes sharing Redis share each merchant's bucket: burst 3 is 3 in all, not 3 each."""
    env = server_env(data_dir, BASKETPAY_RATE_LIMIT_REQUESTS_PER_SECOND="0.01", BASKETPAY_RATE_LIMIT_BURST_MAX="3",
                     BASKETPAY_REDIS_URL=os.environ.get("BASKETPAY_REDIS_URL", "redis://127.0.0.1:6379/0"))
    servers = [ServerProcess(database_url, env=env, log_path=data_dir / f"shared-limit-{n}.log").start() for n in (1, 2)]
    try:
        statuses = []
        for number in range(8):
            with httpx.Client(base_url=servers[number % 2].base_url,
                              headers={"Authorization": f"Bearer {merchant[1]}"}) as http:
                statuses.append(http.get("/v1/payment_intents").status_code)
        assert sorted(statuses) == [200] * 3 + [429] * 5, statuses
    finally:
        for server in servers:
            server.stop()
