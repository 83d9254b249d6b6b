"""The money policy and the exact fixed-point column type."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import InvalidAmount
from ledger.money import (
    Amount,
    from_broker_float,
    parse_amount,
    product,
    require_cash,
    require_storable,
    round_cash,
)


@pytest.mark.parametrize("value", [1.5, True, float("nan"), "NaN", "Infinity", "12abc", None, [1]])
def test_what_is_not_money_is_refused(value: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(value)


def test_decimals_ints_and_plain_strings_are_money() -> None:
    assert parse_amount(" 12.50 ") == Decimal("12.50")
    assert parse_amount(7) == Decimal(7)


@pytest.mark.parametrize(
    ("value", "reason"), [("0", "greater than zero"), ("-1", "greater than zero"), ("1.005", "whole cents")]
)
def test_investor_cash_is_positive_whole_cents(value: str, reason: str) -> None:
    with pytest.raises(InvalidAmount, match=reason):
        require_cash(Decimal(value))


def test_cash_rounds_half_to_even() -> None:
    assert [round_cash(Decimal(v)) for v in ("0.125", "0.135", "-0.125", "2.675")] == [
        Decimal("0.12"),
        Decimal("0.14"),
        Decimal("-0.12"),
        Decimal("2.68"),
    ]


def test_broker_floats_become_the_decimals_they_meant() -> None:
    assert from_broker_float(150.12) == Decimal("150.12")
    assert from_broker_float(0.1 + 0.2) == Decimal("0.3000000000")


def test_more_places_than_storage_keeps_are_refused() -> None:
    with pytest.raises(InvalidAmount):
        require_storable(Decimal("0.00000000001"))


amounts = st.decimals(
    min_value=Decimal("-922337203"),
    max_value=Decimal("922337203"),
    places=10,
    allow_nan=False,
    allow_infinity=False,
)


@given(amounts)
def test_the_column_type_round_trips_exactly_on_both_engines(amount: Decimal) -> None:
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        stored = Amount.process_bind_param(amount, dialect)
        assert Amount.process_result_value(stored, dialect) == amount


def test_the_column_type_refuses_floats_and_excess_precision() -> None:
    with pytest.raises(TypeError):
        Amount.process_bind_param(1.5, sqlite.dialect())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="10 places"):
        Amount.process_bind_param(Decimal("1.00000000001"), postgresql.dialect())
    with pytest.raises(ValueError, match="SQLite"):
        Amount.process_bind_param(Decimal("1000000000"), sqlite.dialect())


def test_products_are_exact_before_the_one_rounding() -> None:
    """Decimal's default 28 digits would round this product before we round it to the storage scale."""
    first, second = Decimal("123456788.5000000001"), Decimal("2.0000000001")
    assert Fraction(product(first, second)) == Fraction(first) * Fraction(second)
    assert first * second != product(first, second)


def test_huge_values_and_broker_sentinels_are_refused_as_amounts() -> None:
    with pytest.raises(InvalidAmount):
        require_storable(Decimal("1e20"))
    for sentinel in (float("nan"), float("inf"), 1.7976931348623157e308):
        with pytest.raises(InvalidAmount):
            from_broker_float(sentinel)
