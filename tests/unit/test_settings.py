from __future__ import annotations

import pytest
from pydantic import ValidationError

from basketpay.settings import Settings


def test_a_processor_call_must_end_before_its_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASKETPAY_IDEMPOTENCY_LEASE_SECONDS", "5")
    monkeypatch.setenv("BASKETPAY_PROCESSOR_TIMEOUT_MS", "5000")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("BASKETPAY_PROCESSOR_TIMEOUT_MS", "4000")
    assert Settings().processor_timeout_ms == 4000


def test_giving_up_on_an_authorization_waits_past_its_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASKETPAY_IDEMPOTENCY_LEASE_SECONDS", "30")
    monkeypatch.setenv("BASKETPAY_UNCONFIRMED_AUTHORIZATION_CANCEL_AFTER_SECONDS", "30")
    with pytest.raises(ValidationError, match="CANCEL_AFTER"):
        Settings()
    monkeypatch.setenv("BASKETPAY_UNCONFIRMED_AUTHORIZATION_CANCEL_AFTER_SECONDS", "31")
    assert Settings().unconfirmed_authorization_cancel_after_seconds == 31
