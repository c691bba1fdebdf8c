class OutOfStock(Exception):
    def __init__(self, sku: str, wanted: int, available: int) -> None:
        super().__init__(f"{sku}: wanted {wanted}, {available} available")
        self.sku = sku
        self.wanted = wanted
        self.available = available


class Stock:
    """Quantities on hand, and reservations held against them."""

    def __init__(self, on_hand: dict[str, int]) -> None:
        self._on_hand = dict(on_hand)
        self._reserved: dict[str, int] = {}

    def available(self, sku: str) -> int:
        return self._on_hand.get(sku, 0) - self._reserved.get(sku, 0)

    def reserve(self, sku: str, quantity: int) -> None:
        """Holds `quantity` of `sku`; more than is available raises OutOfStock and holds nothing."""
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        if quantity > self.available(sku):
            raise OutOfStock(sku, quantity, self.available(sku))
        self._reserved[sku] = self._reserved.get(sku, 0) + quantity

    def release(self, sku: str, quantity: int) -> None:
        """Gives back part of a reservation; releasing more than is reserved raises ValueError."""
        held = self._reserved.get(sku, 0)
        if quantity > held:
            raise ValueError(f"{sku}: only {held} reserved")
        self._reserved[sku] = held - quantity
