"""What a routing decision looks at, and what it answers: the facts of one payment attempt
(no card number: brand, BIN, issuing country, funding come from the vault's metadata),
and the processors to try, in order, each with why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AttemptContext:
    merchant_id: str
    amount: int  # minor units
    currency: str  # ISO 4217, lower case
    brand: str | None = None  # visa, mastercard, amex, discover, ...
    bin: str | None = None  # the card's first 6 (or 8) digits
    issuing_country: str | None = None  # ISO 3166-1 alpha-2, upper case
    funding: str | None = None  # credit | debit | prepaid
    payment_method_type: str = "card"
    customer: str | None = None  # the stable unit experiments assign by, when there is one
    payment: str | None = None  # the payment intent: the unit when there is no customer

    @property
    def segment(self) -> str:
        """What success rates are kept per: processors approve brands, funding types and
        currencies differently."""
        return f"{self.brand or 'any'}:{self.funding or 'any'}:{self.currency}"


@dataclass(frozen=True, slots=True)
class Candidate:
    processor: str
    reason: str  # e.g. "rule:eu-debit", "split:70/30", "bandit", "cost", "failover"


@dataclass(frozen=True, slots=True)
class Decision:
    """Processors to try in order: the first, then where a soft decline or an outage may cascade."""

    candidates: tuple[Candidate, ...]
    strategy: str
    config_version: int | None = None
    experiment_arm: str | None = None
    max_attempts: int = 1  # soft declines cascade down the candidates while attempts and time remain
    budget_ms: int = 0

    @property
    def processors(self) -> list[str]:
        return [candidate.processor for candidate in self.candidates]
