"""Allocation of a block's fills, with properties: the sum is exact, every order stays within one share of its
exact pro-rata part through any sequence of partial fills, nobody gives shares back, the result is deterministic,
the tie-break favours no position over many blocks, commission splits to the cent, and every order ends at the
block's average price."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.allocation import allocate_shares, average_price_adjustments, largest_remainder
from ledger.money import round_cash

orders = st.lists(st.integers(1, 500), min_size=1, max_size=40)


@st.composite
def blocks_with_fills(draw: st.DrawFn) -> tuple[list[int], list[int], int]:
    """Ordered quantities, a sequence of execution sizes that may overfill by a little, and a rotation."""
    ordered = draw(orders)
    total = sum(ordered)
    fills, left = [], total + draw(st.integers(0, 3))
    while left > 0 and len(fills) < 12:
        size = draw(st.integers(1, left))
        fills.append(size)
        left -= size
    return ordered, fills, draw(st.integers(0, 10_000))


@given(blocks_with_fills())
def test_partial_fills_stay_pro_rata_exact_and_never_taken_back(case: tuple[list[int], list[int], int]) -> None:
    ordered, fills, rotation = case
    total = sum(ordered)
    allocated = [0] * len(ordered)
    for size in fills:
        room = total - sum(allocated)
        given_now = allocate_shares(ordered, allocated, size, rotation)
        assert sum(given_now) == min(size, room)  # the rest (an overfill) is the house's
        assert all(part >= 0 for part in given_now)
        allocated = [a + g for a, g in zip(allocated, given_now, strict=True)]
        filled = sum(allocated)
        for quantity, got in zip(ordered, allocated, strict=True):
            assert got <= quantity
            assert abs(got * total - filled * quantity) < total  # within one share of the exact part
    assert given_now == allocate_shares(
        ordered, [a - g for a, g in zip(allocated, given_now, strict=True)], fills[-1], rotation
    )  # deterministic


def test_a_worked_example() -> None:
    """1,000 shares ordered as 100, 200 and 700; 333 fill: exact parts 33.3, 66.6, 233.1; the last share goes
    to the largest fraction (66.6)."""
    assert allocate_shares([100, 200, 700], [0, 0, 0], 333, rotation=0) == [33, 67, 233]


def test_orders_ahead_of_their_part_wait_while_the_others_catch_up() -> None:
    """Three orders of 1: the first share went to the first; the second share goes to one of the other two
    (the rotation decides which), never the first again."""
    assert allocate_shares([1, 1, 1], [1, 0, 0], 1, rotation=0) in ([0, 1, 0], [0, 0, 1])
    assert allocate_shares([5, 1, 1, 1], [2, 0, 0, 0], 2, rotation=3) == [1, 0, 0, 1]


@given(size=st.integers(2, 7), rounds=st.integers(1, 30))
def test_the_tie_break_favours_no_position(size: int, rounds: int) -> None:
    """Blocks of equal orders, each filled one share short of an even split: over `size` consecutive rotations
    every position wins the odd share equally often."""
    wins: Counter[int] = Counter()
    for rotation in range(size * rounds):
        given_now = allocate_shares([1] * size, [0] * size, 1, rotation)
        wins[given_now.index(1)] += 1
    assert set(wins.values()) == {rounds} and len(wins) == size


@given(
    total=st.integers(-10_000, 10_000),
    weights=st.lists(st.integers(0, 1000), min_size=1, max_size=30),
    rotation=st.integers(0, 100),
)
def test_largest_remainder_splits_exactly(total: int, weights: list[int], rotation: int) -> None:
    if sum(weights) == 0:
        with pytest.raises(ValueError):
            largest_remainder(total, weights, rotation)
        return
    parts = largest_remainder(total, weights, rotation)
    assert sum(parts) == total
    for weight, part in zip(weights, parts, strict=True):
        assert abs(part * sum(weights) - total * weight) < sum(weights)
        if weight == 0:
            assert part == 0


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("2000"), places=4)


@given(
    ordered=orders,
    executions=st.lists(st.tuples(st.integers(1, 300), prices), min_size=1, max_size=6),
    rotation=st.integers(0, 50),
)
def test_every_order_ends_at_the_blocks_average_price(
    ordered: list[int], executions: list[tuple[int, Decimal]], rotation: int
) -> None:
    allocated, paid = [0] * len(ordered), [Decimal(0)] * len(ordered)
    block_gross = Decimal(0)
    for size, price in executions:
        given_now = allocate_shares(ordered, allocated, size, rotation)
        block_gross += sum(given_now) * price
        allocated = [a + g for a, g in zip(allocated, given_now, strict=True)]
        paid = [p + round_cash(g * price) for p, g in zip(paid, given_now, strict=True)]
    adjustments = average_price_adjustments(paid, allocated, block_gross)
    shares = sum(allocated)
    for quantity, gross, adjustment in zip(allocated, paid, adjustments, strict=True):
        if quantity:
            assert gross + adjustment == round_cash(block_gross * quantity / shares)
        else:
            assert adjustment == 0
    # Whatever the adjustments leave over is a few cents at most, for the house error account.
    assert abs(sum(paid) + sum(adjustments) - block_gross) <= Decimal("0.005") * (len(ordered) + 1) * 2


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        allocate_shares([1, 2], [0], 1, 0)
    with pytest.raises(ValueError):
        allocate_shares([1], [2], 1, 0)
