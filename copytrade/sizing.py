"""How many shares a copy trades when its leader's order fills (pure).

Buys follow the leader's order as it fills: the copy's target for the whole order so far is worked out from
the shares the leader has got so far, in whole shares rounded down, and the copy orders what it has not
ordered yet. A leader's order that fills in several executions so costs the copy no share to rounding twice.

- proportional (the default): the leader's shares times the copy's equity over the leader's;
- fixed amount: the copy spends about this many dollars on the leader's whole order;
- ratio: this many shares per leader's share;

always within the copy's maximum per trade, and within its cash. An order worth less than the platform's
minimum waits for more of the leader's order to fill, and is skipped (the follower told) if the leader's
order completes below it, or if the copy cannot pay for a single share.

Sales keep the copy in step with the leader's position: the leader going from `before` to `after` shares,
the copy keeps the same fraction of its own (rounded down), so a leader who sells out leaves the copy out too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from ledger.money import ZERO

from .terms import Sizing

ONE_SHARE = Decimal(1)
TOO_SMALL = "the copy's share of the trade is below the minimum order"
NO_CASH = "the copy has not enough cash left for one share"


@dataclass(frozen=True)
class LeaderFill:
    price: Decimal
    position_before: Decimal  # the leader's shares before this execution
    position_after: Decimal
    order_quantity: Decimal  # the leader's whole order
    order_filled: Decimal  # of it, filled so far (this execution included)
    leader_equity: Decimal  # cash and positions at market, for proportional sizing

    @property
    def order_complete(self) -> bool:
        return self.order_filled >= self.order_quantity


@dataclass(frozen=True)
class CopySide:
    sizing: Sizing
    sizing_value: Decimal | None
    max_per_trade: Decimal | None
    equity: Decimal  # the copy's cash and positions at market
    cash: Decimal  # its cash available (not set aside for its open orders)
    shares: Decimal  # its shares of the instrument, available (not held for its open sales)
    ordered: Decimal  # shares it has ordered so far for this leader's order


@dataclass(frozen=True)
class Decision:
    quantity: Decimal  # whole shares to order now; zero: nothing now
    skipped: str | None = None  # why the leader's trade is not followed (told to the follower once)


def whole(value: Decimal) -> Decimal:
    return max(ZERO, value.to_integral_value(rounding=ROUND_FLOOR))


def buy_target(copy: CopySide, fill: LeaderFill) -> Decimal:
    """Shares the copy should have ordered for the leader's order so far."""
    if copy.sizing is Sizing.RATIO:
        target = fill.order_filled * (copy.sizing_value or ZERO)
    elif copy.sizing is Sizing.FIXED_AMOUNT:
        target = (copy.sizing_value or ZERO) / fill.price * fill.order_filled / fill.order_quantity
    elif fill.leader_equity > 0:
        target = fill.order_filled * copy.equity / fill.leader_equity
    else:
        target = ZERO
    if copy.max_per_trade is not None:
        target = min(target, copy.max_per_trade / fill.price)
    return whole(target)


def mirror_buy(
    copy: CopySide, fill: LeaderFill, minimum_value: Decimal, cost_of: Callable[[Decimal], Decimal]
) -> Decision:
    """The copy's buy now; `cost_of(shares)` is what an order of that many shares sets aside (price, buffer,
    commission)."""
    wanted = buy_target(copy, fill) - copy.ordered
    if wanted <= 0:
        return Decision(ZERO, TOO_SMALL if fill.order_complete and copy.ordered == 0 else None)
    affordable = affordable_shares(copy.cash, fill.price, cost_of)
    if affordable == 0:
        return Decision(ZERO, NO_CASH)
    quantity = min(wanted, affordable)
    if quantity * fill.price < minimum_value:
        return Decision(ZERO, TOO_SMALL if fill.order_complete else None)
    return Decision(quantity)


def mirror_sell(copy: CopySide, fill: LeaderFill) -> Decision:
    if copy.shares <= 0 or fill.position_before <= 0:
        return Decision(ZERO)
    kept = whole(copy.shares * max(ZERO, fill.position_after) / fill.position_before)
    return Decision(copy.shares - kept)


def affordable_shares(cash: Decimal, price: Decimal, cost_of: Callable[[Decimal], Decimal]) -> Decimal:
    """The most whole shares whose order `cash` can set aside."""
    if cash <= 0 or price <= 0:
        return ZERO
    shares = whole(cash / price)
    while shares > 0 and cost_of(shares) > cash:  # the buffer and commission: a few steps down at most
        shares = whole(min(shares - ONE_SHARE, shares * cash / cost_of(shares)))
    while cost_of(shares + ONE_SHARE) <= cash:  # the proportional step can land a share or two short
        shares += ONE_SHARE
    return shares
