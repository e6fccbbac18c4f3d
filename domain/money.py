"""Money is integer fen. Decimal yuan strings are parsed only at the edges."""

from __future__ import annotations

import re

from domain.errors import InvalidInputError

# No single contribution, transfer or medical bill is over 10 million yuan. Bounding every amount
# also bounds what a view can add up (see domain.person.BALANCE_FEN_MAX).
AMOUNT_FEN_MAX = 1_000_000_000

_YUAN = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")  # ASCII digits only
# Exactly the amounts `parse_amount` takes (written without surrounding spaces, which it also
# forgives): more than zero, at most two decimals, at most AMOUNT_FEN_MAX (10,000,000.00 yuan).
# The API's schema states it for every command's `amount`.
AMOUNT_PATTERN = r"^(?:0\.(?:0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,6}(?:\.[0-9]{1,2})?|10000000(?:\.00?)?)$"


def parse_yuan(raw: object, field: str = "amount") -> int:
    """'12.30' -> 1230. Positive, at most two decimals, strings only (no floats). Messages name
    the field and never echo the value (it may be anything, an ID number included)."""
    if not isinstance(raw, str):
        raise InvalidInputError(
            f'{field}: must be a decimal yuan string such as "12.30" (got {type(raw).__name__})',
            field=field,
        )
    text = raw.strip()
    if text.startswith("-"):
        raise InvalidInputError(f"{field}: must be positive", field=field)
    match = _YUAN.match(text)
    if not match:
        if re.match(r"^\d+\.\d{3,}$", text):
            raise InvalidInputError(f"{field}: at most two decimals (fen)", field=field)
        raise InvalidInputError(f'{field}: not a decimal yuan amount such as "12.30"', field=field)
    whole, frac = match.group(1), (match.group(2) or ".")[1:]
    fen = int(whole) * 100 + int(frac.ljust(2, "0"))
    if fen <= 0:
        raise InvalidInputError(f"{field}: must be greater than zero", field=field)
    return fen


def parse_amount(raw: object, field: str = "amount") -> int:
    """A command's amount: `parse_yuan`, and at most AMOUNT_FEN_MAX."""
    fen = parse_yuan(raw, field)
    if fen > AMOUNT_FEN_MAX:
        raise InvalidInputError(f"{field}: at most {format_fen(AMOUNT_FEN_MAX)} yuan", field=field)
    return fen


def format_fen(fen: int, *, grouped: bool = False) -> str:
    """1230 -> '12.30': yuan as a command's `amount` takes them (`parse_yuan` reads it back).
    `grouped`: with thousands separators, as people read amounts (430000 -> '4,300.00'): every
    amount a page or a terminal table shows; machine output stays in fen."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    whole = f"{fen // 100:,}" if grouped else str(fen // 100)
    return f"{sign}{whole}.{fen % 100:02d}"
