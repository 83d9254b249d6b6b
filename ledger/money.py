"""The money policy: the one place that says what a number in Omnibot may be.

- Every amount is a `Decimal`. Floats are refused here; the broker adapter turns IB's floats into Decimals at
  its boundary with `from_broker_float`.
- The database keeps every amount (cash, quantities, prices) with `STORAGE_PLACES` places (see `Amount`).
- An investor's cash moves in whole cents: computed amounts are rounded half-to-even (banker's rounding, no
  drift over many roundings) with `round_cash`; the fraction of a cent between IB's exact figure and the
  investor's is booked to the house error account, never lost.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from core.errors import InvalidAmount
from core.types import FixedDecimal

STORAGE_PLACES = 10
CASH_PLACES = 2
CENT = Decimal(1).scaleb(-CASH_PLACES)
STORAGE_UNIT = Decimal(1).scaleb(-STORAGE_PLACES)
ZERO = Decimal(0)
STORAGE_LIMIT = Decimal(10) ** 18  # NUMERIC(28, 10) holds less than this
_EXACT_DIGITS = 80  # enough for any product of two storable amounts: no rounding before the one we choose

Amount = FixedDecimal(STORAGE_PLACES)
"""The column type of every amount, quantity and price."""


def parse_amount(value: object) -> Decimal:
    """A Decimal from a Decimal, an int or a plain decimal string; floats, booleans, NaN and infinities refused."""
    if isinstance(value, bool | float):
        raise InvalidAmount(value, "floats are not money; pass a Decimal or a string")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidAmount(value, "not a number") from None
    else:
        raise InvalidAmount(value, f"{type(value).__name__} is not a number")
    if not amount.is_finite():
        raise InvalidAmount(value, "not a finite number")
    return amount


def require_positive(value: object) -> Decimal:
    amount = parse_amount(value)
    if amount <= 0:
        raise InvalidAmount(amount, "must be greater than zero")
    return amount


def require_storable(amount: Decimal) -> Decimal:
    """The amount, if the database can keep it exactly."""
    if not amount.is_finite() or abs(amount) >= STORAGE_LIMIT:
        raise InvalidAmount(amount, "not a finite amount small enough to keep")
    if amount != round_storage(amount):
        raise InvalidAmount(amount, f"more than {STORAGE_PLACES} decimal places")
    return amount


def product(first: Decimal, second: Decimal) -> Decimal:
    """The exact product (Decimal's default context would round it to 28 digits first)."""
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        return first * second


def is_whole_cents(amount: Decimal) -> bool:
    return amount == amount.quantize(CENT)


def require_cash(value: object) -> Decimal:
    """A positive amount of investor cash, in whole cents."""
    amount = require_positive(value)
    if not is_whole_cents(amount):
        raise InvalidAmount(amount, "cash is counted in whole cents")
    return amount


def round_cash(amount: Decimal) -> Decimal:
    return _quantize(amount, CENT)


def round_storage(amount: Decimal) -> Decimal:
    return _quantize(amount, STORAGE_UNIT)


def _quantize(amount: Decimal, unit: Decimal) -> Decimal:
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        return amount.quantize(unit, rounding=ROUND_HALF_EVEN)


def from_broker_float(value: float) -> Decimal:
    """IB's float as the Decimal it was meant to be: its shortest repr, rounded to the storage scale.

    IB's "unset" (the largest float), infinities and NaN are refused: the adapter maps unset values to None first.
    """
    amount = parse_amount(Decimal(repr(value)))
    if abs(amount) >= STORAGE_LIMIT:
        raise InvalidAmount(value, "too large to keep (IB's mark for an unset value?)")
    return round_storage(amount)
