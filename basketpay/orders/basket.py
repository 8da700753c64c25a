"""A grocery basket and what it costs, in integer minor units.

A line is counted (`quantity` units) or weighed (`quantity` in thousandths of the
unit the price is per, e.g. 1,250 for 1.25 lb at a price per lb). Its amount is the
price times the quantity, weighed lines rounded half up to the minor unit. Taxes
and deposits are per line; fees and the tip are per order. SNAP EBT may pay for an
eligible line's amount only: never its tax, its deposit, a fee or the tip.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from basketpay.invariant import invariant

WEIGHT_SCALE = 1000  # weighed quantities are in thousandths of the priced unit
BASIS_POINTS = 10_000


class ChargeKind(enum.StrEnum):
    ITEM = "item"
    TAX = "tax"
    DEPOSIT = "deposit"
    FEE = "fee"
    TIP = "tip"


def _divide_half_up(numerator: int, denominator: int) -> int:
    invariant(numerator >= 0 and denominator > 0, "rounding non-negative amounts")
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    unit_price: int  # minor units per unit (per priced weight unit when weighed)
    quantity: int  # units, or thousandths of the priced unit when weighed
    weighed: bool = False
    snap_eligible: bool = False
    tax_rate_bps: int = 0
    deposit_per_unit: int = 0  # bottle deposits: counted lines only

    def __post_init__(self) -> None:
        invariant(self.unit_price >= 0 and self.quantity >= 0, f"line {self.id}: negative price or quantity")
        invariant(0 <= self.tax_rate_bps <= BASIS_POINTS, f"line {self.id}: tax rate out of range")
        invariant(not (self.weighed and self.deposit_per_unit), f"line {self.id}: a weighed line has no deposit")

    @property
    def amount(self) -> int:
        if self.weighed:
            return _divide_half_up(self.unit_price * self.quantity, WEIGHT_SCALE)
        return self.unit_price * self.quantity

    @property
    def tax(self) -> int:
        return _divide_half_up(self.amount * self.tax_rate_bps, BASIS_POINTS)

    @property
    def deposit(self) -> int:
        return self.deposit_per_unit * self.quantity


@dataclass(frozen=True, slots=True)
class Charge:
    """One amount the customer pays, and what it is for (the unit tenders are allocated by).
    Only the amount of an eligible line's item charge may be paid with SNAP EBT."""

    kind: ChargeKind
    reference: str  # the line id, or the fee's name, or "tip"
    amount: int
    snap_eligible: bool = False


@dataclass(frozen=True, slots=True)
class Basket:
    currency: str
    lines: tuple[Line, ...] = ()
    fees: tuple[tuple[str, int], ...] = ()  # (name, amount): delivery, service, bag, ...
    tip: int = 0

    def __post_init__(self) -> None:
        ids = [line.id for line in self.lines]
        invariant(len(ids) == len(set(ids)), "line ids are unique within a basket")
        invariant(self.tip >= 0 and all(amount >= 0 for _, amount in self.fees), "fees and tip are not negative")

    def charges(self, *, with_tip: bool = True) -> list[Charge]:
        """Every non-zero amount in a fixed order: eligible items first (EBT pays in this
        order), the other items, then taxes, deposits, fees and the tip."""
        items = [Charge(ChargeKind.ITEM, line.id, line.amount, line.snap_eligible) for line in self.lines]
        items.sort(key=lambda charge: not charge.snap_eligible)  # stable: basket order within each group
        charges = [*items, *(Charge(ChargeKind.TAX, line.id, line.tax) for line in self.lines),
                   *(Charge(ChargeKind.DEPOSIT, line.id, line.deposit) for line in self.lines),
                   *(Charge(ChargeKind.FEE, name, amount) for name, amount in self.fees)]
        if with_tip:
            charges.append(Charge(ChargeKind.TIP, "tip", self.tip))
        return [charge for charge in charges if charge.amount > 0]

    def total(self, *, with_tip: bool = True) -> int:
        return sum(charge.amount for charge in self.charges(with_tip=with_tip))

    @property
    def snap_eligible_total(self) -> int:
        return sum(line.amount for line in self.lines if line.snap_eligible)

    def line(self, line_id: str) -> Line:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise KeyError(line_id)

    def with_line(self, line: Line) -> Basket:
        """The basket with `line` added at the end, or in place of the line with its id."""
        if all(existing.id != line.id for existing in self.lines):
            return replace(self, lines=(*self.lines, line))
        return replace(self, lines=tuple(line if existing.id == line.id else existing for existing in self.lines))

    def without_line(self, line_id: str) -> Basket:
        return replace(self, lines=tuple(line for line in self.lines if line.id != line_id))

    def with_tip(self, tip: int) -> Basket:
        return replace(self, tip=tip)


__all__ = ["WEIGHT_SCALE", "Basket", "Charge", "ChargeKind", "Line"]
