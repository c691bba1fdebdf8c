from inventory import parse_price


def test_parse_price_smoke() -> None:
    assert parse_price("1.00 EUR")[1] == "EUR"
