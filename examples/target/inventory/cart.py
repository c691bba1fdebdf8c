from dataclasses import dataclass, field
from decimal import Decimal

from inventory.pricing import apply_discount


@dataclass(frozen=True)
class LineItem:
    sku: str
    unit_price: Decimal
    quantity: int

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class Cart:
    items: dict[str, LineItem] = field(default_factory=dict)
    discount_code: str | None = None

    def add(self, sku: str, unit_price: Decimal, quantity: int = 1) -> None:
        """Adds `quantity` of `sku`; adding a sku again increases its quantity."""
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        current = self.items.get(sku)
        if current is not None:
            quantity += current.quantity
        self.items[sku] = LineItem(sku, unit_price, quantity)

    def remove(self, sku: str) -> None:
        """Removes a sku; removing one that is not in the cart raises KeyError."""
        del self.items[sku]

    def total(self) -> Decimal:
        """Sum of the line subtotals, less the discount, rounded to cents."""
        gross = sum((item.subtotal for item in self.items.values()), Decimal("0"))
        if self.discount_code is None:
            return gross.quantize(Decimal("0.01"))
        return apply_discount(gross, self.discount_code)
