from decimal import Decimal

import pytest

from inventory import Cart, Stock


@pytest.fixture
def cart() -> Cart:
    """A cart with two line items worth 25.00 in total."""
    c = Cart()
    c.add("apple", Decimal("2.50"), 4)
    c.add("pear", Decimal("15.00"))
    return c


@pytest.fixture
def stock() -> Stock:
    return Stock({"apple": 10, "pear": 2})
