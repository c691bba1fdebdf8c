import pytest

from inventory import OutOfStock, Stock


def test_tc_3_1_reserve_lowers_available(stock: Stock) -> None:
    stock.reserve("apple", 3)
    assert stock.available("apple") == 7


def test_tc_3_2_over_reservation_holds_nothing(stock: Stock) -> None:
    with pytest.raises(OutOfStock) as error:
        stock.reserve("pear", 3)
    assert (error.value.wanted, error.value.available) == (3, 2)
    assert stock.available("pear") == 2


def test_tc_3_3_release_gives_back(stock: Stock) -> None:
    stock.reserve("apple", 4)
    stock.release("apple", 1)
    assert stock.available("apple") == 7


def test_tc_3_4_release_more_than_reserved(stock: Stock) -> None:
    stock.reserve("apple", 1)
    with pytest.raises(ValueError):
        stock.release("apple", 2)


def test_tc_3_5_unknown_sku(stock: Stock) -> None:
    assert stock.available("plum") == 0
    with pytest.raises(OutOfStock):
        stock.reserve("plum", 1)
