"""A seeded model of how issuers and a processor answer card authorizations, so that
routing has approval rates that differ by processor and by BIN to optimise against.

It applies only to cards without a fixed outcome: the test cards of
connectors/sandbox/cards.py and FIXED_APPROVALS keep theirs. Each other attempt takes
three independent draws, in this order:

    1. a hard decline (generic_decline) with probability `hard_decline_rate`;
    2. a soft decline with the rate of the longest `soft_decline_rates` prefix of the BIN;
    3. the processor approves with probability `approval_rate`, else a soft decline.

so approvals come out at approval_rate * (1 - BIN soft rate) * (1 - hard_decline_rate).
A soft decline's code is drawn evenly from `soft_decline_codes`. Codes are the shared
Stripe-style decline codes; each sandbox maps them to its own wire vocabulary.

Every decision takes four draws from one random.Random(seed), whatever its outcome, so
the same seed and sequence of authorizations give the same answers, and a retry of the
same card (a later draw) can be answered differently. Setting new settings restarts the
sequence from their seed.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse

from basketpay.connectors.sandbox.cards import DECLINES

__all__ = [
    "Behaviour", "BehaviourSettings", "InvalidBehaviour", "attached_behaviour", "behaviour_endpoint",
    "behaviour_from_config", "card_bin", "has_fixed_outcome", "parse_settings", "set_behaviour",
]

SOFT_DECLINE_CODES = ("do_not_honor", "try_again_later", "issuer_not_available", "processing_error")
HARD_DECLINE_CODE = "generic_decline"
DECLINE_CODES = (HARD_DECLINE_CODE, *SOFT_DECLINE_CODES)
# The well-known approving test cards (Stripe's pm_card_visa, _mastercard, _amex): always approved.
FIXED_APPROVALS = frozenset({"4242424242424242", "5555555555554444", "378282246310005"})
SOFT_DECLINE_PREFIXES_MAX = 1_000
REQUEST_BODY_BYTES_MAX = 64 * 1024  # room for SOFT_DECLINE_PREFIXES_MAX prefixes
BIN_LENGTH_MAX = 8  # PCI DSS allows keeping the first 8 digits of a 16-digit number, 6 otherwise
SETTING_NAMES = frozenset({"seed", "approval_rate", "hard_decline_rate", "soft_decline_rates", "soft_decline_codes"})


class InvalidBehaviour(ValueError):
    """Settings that cannot be applied; the message says which and why."""


@dataclass(frozen=True, slots=True)
class BehaviourSettings:
    seed: int = 0
    approval_rate: float = 1.0  # of this processor, for attempts the issuer did not decline
    hard_decline_rate: float = 0.0
    soft_decline_rates: Mapping[str, float] = field(default_factory=dict)  # BIN prefix -> rate
    soft_decline_codes: tuple[str, ...] = SOFT_DECLINE_CODES

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "approval_rate": self.approval_rate, "hard_decline_rate": self.hard_decline_rate,
                "soft_decline_rates": dict(self.soft_decline_rates),
                "soft_decline_codes": list(self.soft_decline_codes)}


def card_bin(number: str) -> str:
    """The issuer prefix a payment method may keep once the full number is dropped."""
    return number[:BIN_LENGTH_MAX] if len(number) >= 16 else number[:6]


def has_fixed_outcome(number: str) -> bool:
    return number in DECLINES or number in FIXED_APPROVALS


def _rate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidBehaviour(f"{name} must be a number from 0 to 1")
    return float(value)


def _soft_decline_rates(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping) or len(value) > SOFT_DECLINE_PREFIXES_MAX:
        raise InvalidBehaviour(f"soft_decline_rates must map at most {SOFT_DECLINE_PREFIXES_MAX} BIN prefixes "
                               "to rates")
    for prefix in value:
        if not isinstance(prefix, str) or not prefix.isdigit() or len(prefix) > BIN_LENGTH_MAX:
            raise InvalidBehaviour(f"soft_decline_rates: a BIN prefix is 1 to {BIN_LENGTH_MAX} digits")
    return {prefix: _rate(rate, f"soft_decline_rates[{prefix}]") for prefix, rate in value.items()}


def _soft_decline_codes(value: Any) -> tuple[str, ...]:
    codes = tuple(value) if isinstance(value, list | tuple) else ()
    if not codes or any(code not in SOFT_DECLINE_CODES for code in codes):
        raise InvalidBehaviour(f"soft_decline_codes must be a non-empty list drawn from {list(SOFT_DECLINE_CODES)}")
    return codes


def parse_settings(raw: Mapping[str, Any] | None) -> BehaviourSettings:
    """Whole settings, not a patch: what is left out takes its default."""
    raw = raw or {}
    unknown = set(raw) - SETTING_NAMES
    if unknown:
        raise InvalidBehaviour(f"unknown behaviour settings: {sorted(unknown)}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidBehaviour("seed must be an integer")
    return BehaviourSettings(
        seed=seed, approval_rate=_rate(raw.get("approval_rate", 1.0), "approval_rate"),
        hard_decline_rate=_rate(raw.get("hard_decline_rate", 0.0), "hard_decline_rate"),
        soft_decline_rates=_soft_decline_rates(raw.get("soft_decline_rates", {})),
        soft_decline_codes=_soft_decline_codes(raw.get("soft_decline_codes", SOFT_DECLINE_CODES)),
    )


class Behaviour:
    def __init__(self, settings: BehaviourSettings | None = None) -> None:
        self.configure(settings or BehaviourSettings())

    def configure(self, settings: BehaviourSettings) -> None:
        self.settings = settings
        # A simulation, not security: a reproducible generator is the point.
        self._random = random.Random(settings.seed)
        self._prefixes = sorted(settings.soft_decline_rates, key=len, reverse=True)

    def soft_decline_rate(self, bin_prefix: str) -> float:
        """The rate of the longest configured prefix of `bin_prefix`; 0 when none matches."""
        for prefix in self._prefixes:
            if bin_prefix.startswith(prefix):
                return self.settings.soft_decline_rates[prefix]
        return 0.0

    def decide(self, bin_prefix: str) -> str | None:
        """The decline code for one authorization attempt, or None when it is approved."""
        hard, soft, approve, pick = (self._random.random() for _ in range(4))
        codes = self.settings.soft_decline_codes
        soft_code = codes[min(int(pick * len(codes)), len(codes) - 1)]
        if hard < self.settings.hard_decline_rate:
            return HARD_DECLINE_CODE
        if soft < self.soft_decline_rate(bin_prefix):
            return soft_code
        return None if approve < self.settings.approval_rate else soft_code


def behaviour_from_config(config: object) -> Behaviour:
    """From a sandbox config's optional `behaviour` dict (absent: approve every card)."""
    return Behaviour(parse_settings(getattr(config, "behaviour", None)))


class BehaviourHolder(Protocol):
    """A sandbox's store: it carries the behaviour; its lock is held by every authorization."""

    lock: asyncio.Lock


def attached_behaviour(holder: object) -> Behaviour:
    """The holder's `behaviour`, created on first use from its `config` (if it has one). Kept in
    the instance's own attributes so a store class need not declare it (the Stripe sandbox's does not)."""
    attributes = vars(holder)
    found = attributes.get("behaviour")
    if not isinstance(found, Behaviour):
        found = attributes["behaviour"] = behaviour_from_config(getattr(holder, "config", None))
    return found


def set_behaviour(holder: object, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Replace a store's settings (under its lock while the sandbox serves); returns them."""
    behaviour = attached_behaviour(holder)
    behaviour.configure(parse_settings(raw))
    return behaviour.settings.to_json()


def behaviour_endpoint(holder: BehaviourHolder) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Sandbox-only `GET|POST /__sandbox/behaviour`: read, or replace with a JSON body, the settings."""

    async def behaviour(request: Request) -> JSONResponse:
        if request.method != "POST":
            return JSONResponse(attached_behaviour(holder).settings.to_json())
        body = await request.body()
        if len(body) > REQUEST_BODY_BYTES_MAX:
            return JSONResponse({"error": f"the body exceeds {REQUEST_BODY_BYTES_MAX} bytes"}, status_code=400)
        try:
            raw = json.loads(body or b"{}")
            if not isinstance(raw, dict):
                raise InvalidBehaviour("the body must be a JSON object")
            async with holder.lock:
                return JSONResponse(set_behaviour(holder, raw))
        except ValueError as error:  # InvalidBehaviour and malformed JSON
            return JSONResponse({"error": str(error)}, status_code=400)

    return behaviour
