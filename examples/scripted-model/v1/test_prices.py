from decimal import Decimal

from inventory import parse_price


def test_tc_4_1_euro_price() -> None:
    assert parse_price("12.50 EUR") == (Decimal("12.50"), "EUR")
