from decimal import Decimal

import pytest

from inventory import Cart, apply_discount


def test_tc_2_1_welcome10() -> None:
    assert apply_discount(100.00, "WELCOME10") == 90.00


def test_tc_2_2_codes_are_case_insensitive() -> None:
    assert apply_discount(100.00, "spring25") == 75.00


def test_tc_2_3_rounds_half_up() -> None:
    assert apply_discount(Decimal("0.05"), "WELCOME10") == Decimal("0.05")


def test_tc_2_4_unknown_code_raises() -> None:
    with pytest.raises(KeyError):
        apply_discount(Decimal("10.00"), "FREE")


def test_tc_2_5_cart_with_code(cart: Cart) -> None:
    cart.discount_code = "WELCOME10"
    assert cart.total() == Decimal("22.50")
