"""The connector interface every processor adapter implements, and its result type.

A connector is stateless. Every call carries a processor-side idempotency key
derived from the attempt id, so calling twice with the same key is safe, and
`inquire` answers "what happened to the call with this key?" for the sweeper.
A result that is not explicitly success or failure is `unknown`, never success.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Protocol


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"  # the processor refused it (card error): final
    FAILED = "failed"  # the processor did not do it (bad state, error): final, safe
    UNKNOWN = "unknown"  # no definitive answer (timeout, lost reply): resolve later


@dataclass(frozen=True, slots=True)
class Card:
    """Card details in memory only, for the length of one authorization."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str | None

    def __repr__(self) -> str:  # never let a card number reach a log through repr()
        return f"Card(last4={self.number[-4:]}, exp={self.exp_month:02d}/{self.exp_year})"


@dataclass(frozen=True, slots=True)
class ProcessorResult:
    outcome: Outcome
    processor_reference: str | None = None
    amount: int = 0
    error_code: str | None = None
    decline_code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptView:
    """What a connector may need to find out what became of an attempt: the processor-side
    idempotency key it was sent with, and the request itself (a processor that has no
    lookup by key answers a re-sent request with the same key from its records)."""

    processor_idempotency_key: str
    operation: str  # authorize | sale | capture | increment_authorization | void | refund
    amount: int
    currency: str
    processor_reference: str | None  # the processor's id of the authorization, for modifications
    merchant_reference: str  # basketpay's payment intent id
    final_capture: bool = False
    created_at: dt.datetime | None = None  # when the attempt was made: some lookups lag behind writes


class Connector(Protocol):
    name: str

    async def authorize(
        self, *, idempotency_key: str, amount: int, currency: str, card: Card, capture: bool,
        merchant_reference: str,
    ) -> ProcessorResult: ...

    # Modifications carry the currency too: some processors (Adyen) want it with every amount.
    async def capture(
        self, *, idempotency_key: str, processor_reference: str, amount: int, final: bool, currency: str
    ) -> ProcessorResult: ...

    async def increment_authorization(
        self, *, idempotency_key: str, processor_reference: str, amount_total: int, currency: str
    ) -> ProcessorResult: ...

    async def void(self, *, idempotency_key: str, processor_reference: str) -> ProcessorResult: ...

    async def refund(
        self, *, idempotency_key: str, processor_reference: str, amount: int, currency: str
    ) -> ProcessorResult: ...

    async def inquire(self, attempt: AttemptView) -> ProcessorResult | None:
        """The result of the call made for this attempt, or None if the processor never saw it
        (only when the processor can say so for certain; otherwise an UNKNOWN result)."""
        ...

    async def cancel_unconfirmed(self, attempt: AttemptView) -> ProcessorResult:
        """Make sure an authorization whose outcome cannot be learned never charges anyone:
        cancel it at the processor by the attempt's own reference, whether or not the
        processor has it (now or later). SUCCEEDED means the processor has taken the
        cancellation; anything else means "try again later"."""
        ...


_CARD_NUMBER = re.compile(r"(?:\d[ -]?){12,19}")


def safe_message(message: str | None) -> str | None:
    """A processor's message, passed on without any card number it might quote."""
    return None if message is None else _CARD_NUMBER.sub("[redacted]", message)


def unknown(message: str, reference: str | None = None) -> ProcessorResult:
    """No definitive answer: never success, resolved later by inquiry or notification."""
    return ProcessorResult(Outcome.UNKNOWN, reference, error_code="processor_unknown", message=message)
