"""Request bodies of the routing API. The configuration itself is free-form JSON, checked
by the routing engine's own parser (routing/strategies.py), which names the bad field."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictInt

from basketpay.payments.schemas import Text, _Strict


class RoutingConfigIn(_Strict):
    config: dict[str, Any] = Field(description="Processors, fee models, rules and the strategy (see the README).")
    note: Text | None = Field(default=None, max_length=500, description="Why: kept with the version.")


class RollbackIn(_Strict):
    version: StrictInt = Field(ge=1, description="The version to put back in force (as a new version).")


class DecideIn(_Strict):
    """A dry run: which processors a payment with these facts would go to, in order."""

    amount: StrictInt = Field(gt=0, le=2**63 - 1)
    currency: Text = Field(min_length=3, max_length=3)
    brand: Text | None = Field(default=None, max_length=20)
    bin: Text | None = Field(default=None, pattern=r"^[0-9]{6,8}$")
    issuing_country: Text | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    funding: Text | None = Field(default=None, pattern=r"^(credit|debit|prepaid)$")
    customer: Text | None = Field(default=None, max_length=255)
