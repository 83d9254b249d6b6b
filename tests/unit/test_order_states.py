"""The order state machine: whatever IB reports, in whatever order, an order's recorded history moves only
forward, never skips a state, and never leaves a terminal state."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.order_states import ALLOWED, TERMINAL, OrderStatus, check_transition, path
from core.errors import InvalidTransition

FORWARD = [OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]


def rank(status: OrderStatus) -> int:
    return FORWARD.index(status) if status in FORWARD else len(FORWARD)


@given(st.lists(st.sampled_from(list(OrderStatus)), max_size=20))
def test_any_sequence_of_reports_gives_a_forward_history_without_skips(reports: list[OrderStatus]) -> None:
    history = [OrderStatus.NEW]
    for report in reports:
        try:
            steps = path(history[-1], report)
        except InvalidTransition:
            continue
        for step in steps:
            assert step in ALLOWED[history[-1]]  # each step is one the machine allows
            history.append(step)
    assert all(rank(later) > rank(earlier) for earlier, later in itertools.pairwise(history))
    assert all(state not in TERMINAL for state in history[:-1])
    if OrderStatus.PARTIALLY_FILLED in history or OrderStatus.FILLED in history:
        assert history[1] is OrderStatus.SUBMITTED  # a fill never skips SUBMITTED


def test_a_fill_seen_before_the_acknowledgement_passes_through_submitted() -> None:
    assert path(OrderStatus.NEW, OrderStatus.FILLED) == [OrderStatus.SUBMITTED, OrderStatus.FILLED]
    assert path(OrderStatus.NEW, OrderStatus.CANCELLED) == [OrderStatus.CANCELLED]
    assert path(OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED) == []


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_states_never_move(terminal: OrderStatus) -> None:
    for target in OrderStatus:
        if target is not terminal:
            with pytest.raises(InvalidTransition):
                check_transition(terminal, target)


def test_a_partly_filled_order_cannot_be_rejected_or_go_back() -> None:
    for target in (OrderStatus.REJECTED, OrderStatus.SUBMITTED, OrderStatus.NEW):
        with pytest.raises(InvalidTransition):
            check_transition(OrderStatus.PARTIALLY_FILLED, target)
