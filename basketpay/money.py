"""Money: integer amounts in a currency's minor unit, with ISO 4217 exponents.

No floats: amounts are `int`; a major-unit figure from a processor file is parsed
with `Decimal` and scaled exactly, and a figure with more precision than the
currency allows is rejected rather than rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from basketpay.invariant import invariant

__all__ = [
    "BASIS_POINTS_PER_UNIT",
    "CURRENCY_EXPONENTS",
    "Money",
    "MoneyError",
    "currency_exponent",
    "format_major",
    "parse_major",
    "percent_of",
]

_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP "
    "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR "
    "JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU "
    "MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR "
    "RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

CURRENCY_EXPONENTS: dict[str, int] = {
    code: exponent
    for exponent, codes in ((0, _EXPONENT_0), (2, _EXPONENT_2), (3, _EXPONENT_3), (4, _EXPONENT_4))
    for code in codes.split()
}


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def currency_exponent(currency: str) -> int:
    exponent = CURRENCY_EXPONENTS.get(currency.upper())
    if exponent is None:
        raise MoneyError(f"unknown currency {currency!r}: expected an ISO 4217 code such as usd")
    return exponent


def parse_major(text: str | Decimal, currency: str) -> int:
    """Parse a major-unit figure ("12.34" USD) into minor units (1234), exactly."""
    exponent = currency_exponent(currency)
    try:
        value = text if isinstance(text, Decimal) else Decimal(text.strip())
    except InvalidOperation as error:
        raise MoneyError(f"not a decimal amount: {text!r}") from error
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {text!r}")
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{text!r} has more than {exponent} decimals, the precision of {currency.upper()}")
    return int(scaled)


def format_major(amount_minor: int, currency: str) -> str:
    """Minor units back to a major-unit string: 1234 USD -> "12.34", 5 JPY -> "5"."""
    invariant(isinstance(amount_minor, int), "amounts are integers in minor units")
    exponent = currency_exponent(currency)
    return str(Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units with its currency; arithmetic only within one currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        invariant(type(self.amount) is int, "Money.amount must be an int in minor units")
        currency_exponent(self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __str__(self) -> str:
        return f"{format_major(self.amount, self.currency)} {self.currency.upper()}"


BASIS_POINTS_PER_UNIT = 10_000


def percent_of(amount_minor: int, bps: int) -> int:
    """`bps` basis points of a non-negative amount, rounded half up on the minor unit (fees)."""
    invariant(amount_minor >= 0 and bps >= 0, "fees are computed on non-negative amounts and rates")
    return (amount_minor * bps + BASIS_POINTS_PER_UNIT // 2) // BASIS_POINTS_PER_UNIT
