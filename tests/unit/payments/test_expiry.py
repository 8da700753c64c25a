from __future__ import annotations

import pytest

from basketpay.payments.expiry import authorization_validity_days


@pytest.mark.parametrize(
    ("brand", "merchant_initiated", "days"),
    [("visa", False, 7), ("visa", True, 5), ("mastercard", True, 7), ("amex", False, 7), ("discover", True, 7), ("jcb", False, 5)],
)
def test_validity_by_brand_and_initiator(brand: str, merchant_initiated: bool, days: int) -> None:
    assert authorization_validity_days(brand, merchant_initiated) == days
