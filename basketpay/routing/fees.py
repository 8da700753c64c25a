"""What a processor is expected to charge for an attempt, so routing can weigh cost: a
percentage in basis points plus a fixed part, replaced by the first override that matches
the card's brand and/or funding (regulated debit costs a fraction of credit), plus a
cross-border surcharge when the card was issued outside the country the processor
acquires in for the merchant::

    {"percent_bps": 290, "fixed_minor": 30,
     "overrides": [{"brand": "visa", "funding": "debit", "percent_bps": 5, "fixed_minor": 22},
                   {"brand": "amex", "percent_bps": 350, "fixed_minor": 30}],
     "cross_border": {"percent_bps": 150}, "merchant_country": "US"}

Integer arithmetic only. Each percentage is rounded half up on the minor unit, once per
component (the rate, the surcharge), as statements bill each line as an integer. Fixed
parts are in the attempt currency's minor units: the model keeps no exchange rates. A card
whose issuing country is unknown is not charged the surcharge: nothing says it is foreign.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from basketpay.money import BASIS_POINTS_PER_UNIT, percent_of
from basketpay.routing.model import AttemptContext
from basketpay.routing.parsing import FUNDINGS, country_code, fail, fields, integer, items, text

__all__ = ["FeeModel", "Override", "Rate", "parse_fee_model", "percent_of"]

_RATE = frozenset({"percent_bps", "fixed_minor"})
_OVERRIDE = _RATE | {"brand", "funding"}
_MODEL = _RATE | {"overrides", "cross_border", "merchant_country"}
OVERRIDES_MAX = 100  # scanned on every fee estimate


@dataclass(frozen=True, slots=True)
class Rate:
    percent_bps: int = 0
    fixed_minor: int = 0

    def fee(self, amount_minor: int) -> int:
        return percent_of(amount_minor, self.percent_bps) + self.fixed_minor


@dataclass(frozen=True, slots=True)
class Override:
    """The rate for cards of this brand and/or funding (a missing one matches any)."""

    rate: Rate
    brand: str | None = None
    funding: str | None = None

    def matches(self, brand: str | None, funding: str | None) -> bool:
        return (self.brand is None or self.brand == brand) and (self.funding is None or self.funding == funding)


@dataclass(frozen=True, slots=True)
class FeeModel:
    rate: Rate
    overrides: tuple[Override, ...] = ()
    cross_border: Rate = Rate()
    merchant_country: str | None = None

    def rate_for(self, brand: str | None, funding: str | None) -> Rate:
        """The first override that matches the card, else the base rate."""
        return next((item.rate for item in self.overrides if item.matches(brand, funding)), self.rate)

    def expected_fee(self, context: AttemptContext) -> int:
        fee = self.rate_for(context.brand, context.funding).fee(context.amount)
        foreign = (self.merchant_country is not None and context.issuing_country is not None
                   and context.issuing_country != self.merchant_country)
        return fee + (self.cross_border.fee(context.amount) if foreign else 0)


def parse_fee_model(data: Any, path: str) -> FeeModel:
    model = fields(data, path, _MODEL)
    overrides = items(model.get("overrides", []), f"{path}.overrides", OVERRIDES_MAX, empty_ok=True)
    country = None if "merchant_country" not in model else country_code(model["merchant_country"],
                                                                         f"{path}.merchant_country")
    if "cross_border" in model and country is None:
        fail(f"{path}.cross_border", "needs merchant_country: cross-border is relative to it")
    return FeeModel(
        rate=_rate(model, path),
        overrides=tuple(_override(item, f"{path}.overrides[{index}]") for index, item in enumerate(overrides)),
        cross_border=_rate(fields(model.get("cross_border", {}), f"{path}.cross_border", _RATE),
                           f"{path}.cross_border"),
        merchant_country=country,
    )


def _override(data: Any, path: str) -> Override:
    override = fields(data, path, _OVERRIDE)
    brand = None if "brand" not in override else text(override["brand"], f"{path}.brand").lower()
    funding = None if "funding" not in override else text(override["funding"], f"{path}.funding").lower()
    if brand is None and funding is None:
        fail(path, "needs a brand or a funding (the base rate applies to every card already)")
    if funding is not None and funding not in FUNDINGS:
        fail(f"{path}.funding", f"{funding!r} is not one of {sorted(FUNDINGS)}")
    return Override(_rate(override, path), brand, funding)


def _rate(data: Any, path: str) -> Rate:
    return Rate(integer(data.get("percent_bps", 0), f"{path}.percent_bps", maximum=BASIS_POINTS_PER_UNIT),
                integer(data.get("fixed_minor", 0), f"{path}.fixed_minor"))
