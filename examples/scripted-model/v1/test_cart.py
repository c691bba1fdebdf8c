from decimal import Decimal

import pytest

from inventory import Cart


def test_tc_1_1_empty_cart_totals_zero() -> None:
    assert Cart().total() == Decimal("0.00")


def test_tc_1_2_total_is_sum_of_line_items(cart: Cart) -> None:
    assert cart.total() == Decimal("25.00")


def test_tc_1_3_same_sku_twice_sums_quantities() -> None:
    cart = Cart()
    cart.add("apple", Decimal("2.50"), 1)
    cart.add("apple", Decimal("2.50"), 2)
    assert list(cart.items) == ["apple"]
    assert cart.items["apple"].quantity == 3


def test_tc_1_4_zero_quantity_is_refused(cart: Cart) -> None:
    with pytest.raises(ValueError):
        cart.add("plum", Decimal("1.00"), 0)
    assert "plum" not in cart.items


def test_tc_1_5_removing_unknown_sku_raises(cart: Cart) -> None:
    with pytest.raises(KeyError):
        cart.remove("plum")
