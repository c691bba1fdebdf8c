import re
from decimal import ROUND_HALF_UP, Decimal

DISCOUNT_CODES: dict[str, Decimal] = {
    "WELCOME10": Decimal("0.10"),
    "SPRING25": Decimal("0.25"),
}

_PRICE = re.compile(r"^\s*(\d+(?:\.\d{1,2})?)\s*(EUR|USD)\s*$")


def apply_discount(amount: Decimal, code: str) -> Decimal:
    """`amount` less the code's rate, rounded half up to cents. Unknown codes raise KeyError."""
    rate = DISCOUNT_CODES[code.upper()]
    return (amount * (1 - rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse_price(text: str) -> tuple[Decimal, str]:
    """'12.50 EUR' -> (Decimal('12.50'), 'EUR'). Anything else raises ValueError."""
    match = _PRICE.match(text)
    if match is None:
        raise ValueError(f"not a price: {text!r}")
    return Decimal(match.group(1)), match.group(2)
