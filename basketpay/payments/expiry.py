"""How long a card-not-present authorization stays valid, by brand and initiator.

Visa: 7 days customer-initiated, 5 days merchant-initiated; Mastercard, Amex and
Discover: 7 days. An unknown brand gets the shortest window, to be safe.
"""

from __future__ import annotations

import datetime as dt

_VALIDITY_DAYS: dict[tuple[str, bool], int] = {
    ("visa", False): 7,
    ("visa", True): 5,
}
_DEFAULT_DAYS = {"mastercard": 7, "amex": 7, "discover": 7}
_UNKNOWN_BRAND_DAYS = 5


def authorization_validity_days(brand: str, merchant_initiated: bool) -> int:
    specific = _VALIDITY_DAYS.get((brand, merchant_initiated))
    if specific is not None:
        return specific
    return _DEFAULT_DAYS.get(brand, _UNKNOWN_BRAND_DAYS)


def authorization_expires_at(brand: str, merchant_initiated: bool, authorized_at: dt.datetime) -> dt.datetime:
    return authorized_at + dt.timedelta(days=authorization_validity_days(brand, merchant_initiated))
