"""Unknown outcomes through the Adyen connector against the Adyen-compatible sandbox:
20% of replies lost (the sandbox carries the request out, then drops the connection)
and 5% of 500s before anything is done, over 1,000 payments. Payments go through the
API; then the faults stop, the notifications the sandbox sends anyway (AUTHORISATION,
CAPTURE) arrive, and the sweeper re-sends the modifications still in flight.

An authorisation that got a 500 before Adyen did anything has no payment and no
notification coming, and Adyen has no lookup by reference: once it is older than
`unconfirmed_authorization_cancel_after_seconds` the sweeper cancels it at Adyen by its
reference (a technical cancel, which also catches a payment that arrives late) and
fails the attempt. Asserted afterwards: every payment Adyen holds authorised for us
matches exactly one basketpay authorization that succeeded with its pspReference,
captured amounts agree, nothing is charged twice, and no attempt is left pending."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine, select

from basketpay.merchants.service import create_merchant
from basketpay.payments.tables import payment_attempts, payment_intents
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from basketpay.settings import Settings
from tests.conftest import server_env
from tests.helpers import drive_payments, sweep_once

PAYMENTS = 1000
CLIENTS = 8
LEASE_SECONDS = 2.0
TIMEOUT_MS = 1000
HMAC_KEY_HEX = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
FAULTS = {"error_rate": 0.05, "reply_lost_rate": 0.20, "seed": 20261125}
SWEEPS_MAX = 5
CANCEL_AFTER_SECONDS = LEASE_SECONDS + 1
QUIET_SECONDS = 1.0  # no notification delivered for this long: the sandbox's queue is drained
QUIET_WAIT_SECONDS_MAX = 30.0


def adyen_env(adyen_url: str) -> dict[str, str]:
    return {
        "BASKETPAY_DEFAULT_CONNECTOR": "adyen", "BASKETPAY_ADYEN_API_BASE": adyen_url,
        "BASKETPAY_ADYEN_API_KEY": "any", "BASKETPAY_ADYEN_HMAC_KEY_HEX": HMAC_KEY_HEX,
        "BASKETPAY_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS), "BASKETPAY_PROCESSOR_TIMEOUT_MS": str(TIMEOUT_MS),
        "BASKETPAY_SWEEPER_INTERVAL_SECONDS": "3600", "BASKETPAY_RATE_LIMIT_REQUESTS_PER_SECOND": "100000",
        "BASKETPAY_LOG_LEVEL": "WARNING",
    }


def wait_for_quiet(adyen_url: str) -> None:
    """Until the sandbox has delivered (or given up on) every notification it queued."""
    deadline = time.monotonic() + QUIET_WAIT_SECONDS_MAX
    last, quiet_since = None, time.monotonic()
    while time.monotonic() < deadline:
        counts = httpx.get(adyen_url + "/__sandbox/notifications").json()
        if counts != last:
            last, quiet_since = counts, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            return
        time.sleep(0.1)


def attempts(engine: Engine, merchant_id: str) -> tuple[dict[str, Any], list[Any]]:
    with engine.connect() as connection:
        intents = {row.id: row for row in connection.execute(
            select(payment_intents).where(payment_intents.c.merchant_id == merchant_id))}
        rows = connection.execute(select(payment_attempts).where(payment_attempts.c.merchant_id == merchant_id)).all()
    return intents, list(rows)


def test_books_agree_after_lost_replies_and_errors(
    data_dir: Path, own_database_url: str, own_settings: Settings, own_engine: Engine,
) -> None:
    with own_engine.begin() as connection:
        created = create_merchant(connection, "adyen-faults")
    merchant = created.merchant_id, created.secret_key
    server = ServerProcess(own_database_url, log_path=data_dir / "adyen-faults-server.log")
    sandboxes = SandboxProcesses([
        "--adyen-webhook-url", server.base_url + "/v1/processor_webhooks/adyen", "--adyen-hmac-key-hex", HMAC_KEY_HEX,
        "--adyen-faults", json.dumps(FAULTS),
    ]).start()
    adyen_url = sandboxes.urls["adyen"]
    server.env = server_env(data_dir, **adyen_env(adyen_url))
    server.start()
    try:
        statuses = drive_payments(server.base_url, merchant[1], PAYMENTS, CLIENTS)
        httpx.post(adyen_url + "/__sandbox/faults", json={"error_rate": 0, "reply_lost_rate": 0}).raise_for_status()
        assert statuses[202] > PAYMENTS * 0.1, statuses  # the faults really happened
        assert set(statuses) <= {200, 202, 409}, statuses
        sweep_settings = own_settings.model_copy(update={
            "default_connector": "adyen", "adyen_api_base": adyen_url,
            "adyen_api_key": SecretStr("any"),
            "adyen_hmac_key_hex": SecretStr(HMAC_KEY_HEX),
            "idempotency_lease_seconds": LEASE_SECONDS, "processor_timeout_ms": TIMEOUT_MS,
            "unconfirmed_authorization_cancel_after_seconds": CANCEL_AFTER_SECONDS,
            "inquiry_backoff_base_seconds": 0.01,
        })
        wait_for_quiet(adyen_url)
        time.sleep(CANCEL_AFTER_SECONDS + 0.2)
        for _ in range(SWEEPS_MAX):
            sweep_once(sweep_settings)
            wait_for_quiet(adyen_url)  # the CAPTUREs of re-sent captures reach the server
        processor_payments = httpx.get(adyen_url + "/__sandbox/payments").json()
    finally:
        server.stop()
        sandboxes.stop()
    cancelled = assert_books_agree(processor_payments, *attempts(own_engine, merchant[0]))
    assert cancelled, "some authorizations got a 500 before Adyen did anything"
    print(f"\n{len(cancelled)} of {PAYMENTS} authorizations were never confirmed; cancelled at Adyen by reference")


def assert_books_agree(processor_payments: list[dict[str, Any]], intents: dict[str, Any],
                       rows: list[Any]) -> list[Any]:
    """Returns the authorizations basketpay gave up on and cancelled at Adyen."""
    by_key = {row.processor_idempotency_key: row for row in rows}
    unconfirmed = [row for row in rows if row.error_code == "authorization_unconfirmed"]
    given_up = {row.processor_idempotency_key for row in unconfirmed}
    charges = [p for p in processor_payments if p["merchantReference"] in by_key and p["resultCode"] == "Authorised"
               and p["merchantReference"] not in given_up]
    succeeded = Counter(row.processor_reference for row in rows
                        if row.operation == "authorize" and row.status == "succeeded")
    assert len(charges) == sum(succeeded.values()) > PAYMENTS * 0.5
    for charge in charges:
        attempt = by_key[charge["merchantReference"]]
        assert (attempt.operation, attempt.status) == ("authorize", "succeeded"), charge
        assert attempt.processor_reference == charge["pspReference"]
        assert succeeded[charge["pspReference"]] == 1, charge  # exactly one attempt for every processor charge
        ours = intents[attempt.payment_intent_id]
        assert ours.processor_reference == charge["pspReference"]
        assert ours.amount_received == charge["capturedValue"], (charge, ours)
    per_intent = Counter(by_key[charge["merchantReference"]].payment_intent_id for charge in charges)
    assert max(per_intent.values()) == 1  # never charged twice for one payment
    assert [row.id for row in rows if row.status == "pending"] == []
    held = {p["merchantReference"]: p for p in processor_payments}
    for row in unconfirmed:
        assert row.operation == "authorize", row
        if row.processor_idempotency_key in held:  # it reached Adyen after all: cancelled there
            assert held[row.processor_idempotency_key]["cancelled"], row
    return unconfirmed
