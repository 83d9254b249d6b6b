"""An order's life, as plain values: what it is and the states it may move through.

    NEW --> SUBMITTED --> PARTIALLY_FILLED --> FILLED
     |          |               |
     +----------+---------------+--> CANCELLED, EXPIRED        (what was filled stays filled)
     +----------+------------------> REJECTED                  (nothing was filled)

A state is never skipped backwards and a terminal state never moves. An order filled before IB's acknowledgement
reached us still passes through SUBMITTED (`path`): every step is recorded with its time, so the way an order
went can always be read back, and it never skips a state.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_live(self) -> bool:
        return self not in TERMINAL


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(StrEnum):
    DAY = "day"  # expires at the end of the trading session
    GTC = "gtc"  # good till cancelled


TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED})

ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    # Before IB has it: routed, withdrawn by the investor, refused at routing, or a day that ended first.
    OrderStatus.NEW: frozenset(
        {OrderStatus.SUBMITTED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
    ),
    OrderStatus.SUBMITTED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


def check_transition(current: OrderStatus, requested: OrderStatus) -> None:
    """Refuse a move the state machine does not allow (a skip, a step back, or out of a terminal state)."""
    if requested not in ALLOWED[current]:
        raise InvalidTransition("order", current.value, requested.value)


def path(current: OrderStatus, target: OrderStatus) -> list[OrderStatus]:
    """The states an order passes through to reach `target`, each an allowed step: a fill of an order whose
    acknowledgement has not been seen yet still records SUBMITTED first. Empty when it is there already."""
    if target is current:
        return []
    steps = []
    if current is OrderStatus.NEW and target in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
        steps.append(OrderStatus.SUBMITTED)
        current = OrderStatus.SUBMITTED
    check_transition(current, target)
    return [*steps, target]


def status_after_fill(filled: int, quantity: int) -> OrderStatus:
    return OrderStatus.FILLED if filled >= quantity else OrderStatus.PARTIALLY_FILLED
