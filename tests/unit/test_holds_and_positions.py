"""Hold and position rules, with properties: holds never skip or reverse a state and account for every unit;
average cost keeps the basis whole and realizes exactly what was gained."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import HoldNotPending, InvalidTransition
from ledger.holds import HoldState, HoldStatus
from ledger.money import round_cash
from ledger.positions import PositionState

TERMINAL = {HoldStatus.POSTED, HoldStatus.RELEASED, HoldStatus.VOIDED}


def new_hold(amount: Decimal) -> HoldState:
    return HoldState(uuid.uuid4(), uuid.uuid4(), amount, Decimal(0), Decimal(0), HoldStatus.PENDING, "k", "r")


operations = st.lists(
    st.one_of(
        st.tuples(st.just("consume"), st.integers(1, 500)),
        st.tuples(st.just("release"), st.just(0)),
        st.tuples(st.just("void"), st.just(0)),
    ),
    max_size=12,
)


@given(amount=st.integers(1, 1000), steps=operations)
def test_holds_move_only_forward_and_account_for_every_unit(amount: int, steps: list[tuple[str, int]]) -> None:
    hold = new_hold(Decimal(amount))
    for action, quantity in steps:
        before = hold
        try:
            if action == "consume":
                hold = hold.consume(min(Decimal(quantity), hold.remaining) or Decimal(1))
            elif action == "release":
                hold = hold.release()
            else:
                hold = hold.void()
        except (HoldNotPending, InvalidTransition, ValueError):
            assert hold == before
            assert before.status in TERMINAL or action in ("void", "consume")
            continue
        assert before.status is HoldStatus.PENDING  # only a pending hold ever changes
        assert hold.posted + hold.released + hold.remaining == hold.amount
        assert hold.remaining >= 0 and hold.posted >= before.posted
        if hold.status in TERMINAL:
            assert hold.remaining == 0
        if hold.status is HoldStatus.VOIDED:
            assert hold.posted == 0


def test_void_is_for_holds_of_which_nothing_was_posted() -> None:
    partly = new_hold(Decimal(10)).consume(Decimal(4))
    with pytest.raises(InvalidTransition):
        partly.void()
    released = partly.release()
    assert (released.posted, released.released, released.status) == (
        Decimal(4),
        Decimal(6),
        HoldStatus.RELEASED,
    )
    with pytest.raises(HoldNotPending):
        released.release()


def test_average_cost_by_hand() -> None:
    """Buy 10 for 1,000.00 and 10 for 1,200.00: 20 at 110.00. Sell 5 for 600.00: basis 550.00 goes, 50.00
    realized. Sell the last 15 for 1,500.00: the 1,650.00 left goes, -150.00 realized; -100.00 in all."""
    position = PositionState().buy(Decimal(10), Decimal("1000.00")).buy(Decimal(10), Decimal("1200.00"))
    assert position.average_cost == Decimal("110.00")
    position = position.sell(Decimal(5), Decimal("600.00"))
    assert (position.cost_basis, position.realized_pnl) == (Decimal("1650.00"), Decimal("50.00"))
    position = position.sell(Decimal(15), Decimal("1500.00"))
    assert position == PositionState(Decimal(0), Decimal(0), Decimal("-100.00"))
    assert position.average_cost is None
    with pytest.raises(ValueError, match="cannot sell"):
        position.sell(Decimal(1), Decimal(1))


trades = st.lists(st.tuples(st.booleans(), st.integers(1, 50), st.integers(1, 10_000_000)), min_size=1, max_size=30)


@given(trades)
def test_average_cost_never_loses_a_cent(steps: list[tuple[bool, int, int]]) -> None:
    """Whatever the sequence, the basis stays between zero and what was paid, and once flat the realized P&L
    is exactly what came in minus what went out."""
    position, paid, received = PositionState(), Decimal(0), Decimal(0)
    for is_buy, quantity, cents in steps:
        amount = Decimal(cents).scaleb(-2)
        if is_buy:
            position, paid = position.buy(Decimal(quantity), amount), paid + amount
        elif position.quantity:
            sold = min(Decimal(quantity), position.quantity)
            position, received = position.sell(sold, amount), received + amount
        assert 0 <= position.cost_basis <= paid
        assert position.cost_basis == round_cash(position.cost_basis)
    if position.quantity:
        position = position.sell(position.quantity, Decimal(0))
    assert position.cost_basis == 0
    assert position.realized_pnl == received - paid
