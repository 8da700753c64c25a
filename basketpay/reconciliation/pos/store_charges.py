"""What the store's till charges for an order's groceries: the figure a point-of-sale line
is matched against."""

from __future__ import annotations

from dataclasses import dataclass

from basketpay.orders.basket import Basket


@dataclass(frozen=True, slots=True)
class StoreCharges:
    total: int  # minor units, tax and deposits included
    tax: int  # minor units


def store_charges(basket: Basket) -> StoreCharges:
    """The store charges the shopper for the groceries bought, and only those: each line's
    amount at its current (at delivery: delivered) quantity or weight, that line's tax, and
    its bottle deposit (deposits are collected by the store). Not the platform's fees and
    not the tip, which the marketplace charges the customer for apart; and whatever tenders
    the customer pays the order with, the till sees one purchase for the whole basket."""
    tax = sum(line.tax for line in basket.lines)
    return StoreCharges(total=sum(line.amount + line.deposit for line in basket.lines) + tax, tax=tax)
