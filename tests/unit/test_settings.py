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
