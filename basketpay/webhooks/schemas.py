"""Request bodies of the webhook endpoints API."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StringConstraints, field_validator

from basketpay.payments.schemas import Text, _Strict

EventType = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z_]+(\.[a-z_]+)+)$")]
OVERLAP_SECONDS_MAX = 7 * 24 * 3600


class EndpointCreate(_Strict):
    url: Text = Field(max_length=2048, description="http(s) URL the events are POSTed to.")
    enabled_events: list[EventType] = Field(min_length=1, max_length=100,
                                            description="Event types (payment_intent.succeeded, …) or ['*'].")
    description: Text | None = Field(default=None, max_length=1000)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or len(value.split("://", 1)[1]) < 1:
            raise ValueError("must be an http:// or https:// URL")
        return value


class SecretRotate(_Strict):
    overlap_seconds: StrictInt = Field(default=24 * 3600, ge=0, le=OVERLAP_SECONDS_MAX,
                                       description="How long the previous secret keeps signing too.")
