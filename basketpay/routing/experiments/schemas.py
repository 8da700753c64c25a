"""Request bodies of the experiments API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictFloat, StrictInt, model_validator

from basketpay.payments.schemas import Text, _Strict


class ArmIn(_Strict):
    name: Text = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")
    share: StrictInt = Field(ge=0, le=10_000, description="Basis points of the traffic; all arms add up to 10,000.")
    config: dict[str, Any] = Field(description="The routing configuration this arm routes by (as /v1/routing/config).")


class GuardrailIn(_Strict):
    rate_min: StrictFloat = Field(default=0.80, ge=0, le=1, description="Stop an arm clearly below this rate.")
    margin_max: StrictFloat = Field(default=0.05, ge=0, le=1, description="…or clearly this far below the control.")
    payments_min: StrictInt = Field(default=1_000, ge=1, description="Not before an arm has this many payments.")
    confidence: StrictFloat = Field(default=0.99, gt=0.5, lt=1)


class ExperimentCreate(_Strict):
    name: Text = Field(min_length=1, max_length=200)
    arms: list[ArmIn] = Field(min_length=2, max_length=5, description="The first arm is the control.")
    unit: Literal["customer", "payment"] = Field(
        default="customer", description="What assignment hashes: a customer stays in one arm (payments without "
                                        "a customer are assigned by payment).")
    planned_sample_size: StrictInt | None = Field(default=None, ge=10, le=100_000_000,
                                                  description="Payments per arm before the test is read.")
    baseline_rate: StrictFloat | None = Field(default=None, gt=0, lt=1,
                                              description="Else: the control's expected authorization rate…")
    minimum_detectable_effect: StrictFloat | None = Field(default=None, gt=0, lt=1,
                                                          description="…and the smallest difference worth finding "
                                                                      "(5% two-sided, power 80%).")
    guardrail: GuardrailIn = GuardrailIn()

    @model_validator(mode="after")
    def _a_sample_size(self) -> ExperimentCreate:
        if self.planned_sample_size is None and (self.baseline_rate is None or self.minimum_detectable_effect is None):
            raise ValueError("give planned_sample_size, or baseline_rate and minimum_detectable_effect")
        return self
