"""A small shop library: carts, prices and stock."""

from inventory.cart import Cart, LineItem
from inventory.pricing import DISCOUNT_CODES, apply_discount, parse_price
from inventory.stock import OutOfStock, Stock

__all__ = ["Cart", "LineItem", "DISCOUNT_CODES", "apply_discount", "parse_price", "OutOfStock", "Stock"]
