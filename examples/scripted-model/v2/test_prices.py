from decimal import Decimal

import pytest

from inventory import parse_price


def test_tc_4_1_euro_price() -> None:
    assert parse_price("12.50 EUR") == (Decimal("12.50"), "EUR")


def test_tc_4_2_whole_amount_and_spaces() -> None:
    assert parse_price(" 3 USD ") == (Decimal("3"), "USD")


@pytest.mark.parametrize("text", ["3 GBP", "1.005 EUR", ""])
def test_tc_4_3_to_4_5_not_a_price(text: str) -> None:
    with pytest.raises(ValueError):
        parse_price(text)
