"""How a copy sizes its orders (copytrade.sizing): whole shares rounded down, a leader's order filled in any
number of executions costing the copy no more shares than one execution would, never beyond its cash, its
maximum per trade or its shares; and when a copy's stop-loss or take-profit is reached."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from hypothesis import example, given
from hypothesis import strategies as st

from broker.pricing import buy_hold
from copytrade.desk import limit_hit
from copytrade.sizing import (
    NO_CASH,
    TOO_SMALL,
    CopySide,
    LeaderFill,
    affordable_shares,
    buy_target,
    mirror_buy,
    mirror_sell,
)
from copytrade.store import CopyRecord
from copytrade.terms import CopyMode, CopyStatus, Sizing

BUFFER = Decimal(5)
prices = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(2000), places=2)
amounts = st.decimals(min_value=Decimal(0), max_value=Decimal(1_000_000), places=2)
shares = st.integers(min_value=0, max_value=100_000).map(Decimal)


def cost(price: Decimal) -> object:
    return lambda quantity: buy_hold(quantity, price, market=True, buffer_pct=BUFFER)


def copy_side(sizing: Sizing = Sizing.PROPORTIONAL, value: str | None = None, **changes: object) -> CopySide:
    side = CopySide(
        sizing, Decimal(value) if value else None, None, Decimal(20_000), Decimal(20_000), Decimal(0), Decimal(0)
    )
    return replace(side, **changes)  # type: ignore[arg-type]


def leader_fill(filled: int, of: int, price: str = "100", equity: str = "100000") -> LeaderFill:
    return LeaderFill(Decimal(price), Decimal(0), Decimal(filled), Decimal(of), Decimal(filled), Decimal(equity))


def test_each_sizing_rule_by_hand() -> None:
    fill = leader_fill(100, 100)
    assert buy_target(copy_side(), fill) == 20  # a fifth of the leader's equity: a fifth of the shares
    assert buy_target(copy_side(Sizing.RATIO, "0.5"), fill) == 50
    assert buy_target(copy_side(Sizing.FIXED_AMOUNT, "2550"), fill) == 25  # 25.5 shares of 100 USD
    assert buy_target(copy_side(Sizing.FIXED_AMOUNT, "2550"), leader_fill(40, 100)) == 10  # 40 % of the order so far
    capped = copy_side(Sizing.RATIO, "0.5", max_per_trade=Decimal(1000))
    assert buy_target(capped, fill) == 10  # at most 1,000 USD a trade


def test_a_copy_too_small_for_the_trade_or_without_cash_skips_it_and_says_why() -> None:
    small = copy_side(equity=Decimal(50), cash=Decimal(50))
    assert mirror_buy(small, leader_fill(100, 100), Decimal(25), cost(Decimal(100))).skipped == TOO_SMALL
    assert mirror_buy(small, leader_fill(10, 100), Decimal(25), cost(Decimal(100))).skipped is None  # waits
    poor = copy_side(cash=Decimal(99))
    assert mirror_buy(poor, leader_fill(100, 100), Decimal(25), cost(Decimal(100))).skipped == NO_CASH


@given(
    price=prices,
    equity=amounts,
    leader_equity=st.decimals(min_value=Decimal(1), max_value=Decimal(10_000_000), places=2),
    slices=st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=8),
    sizing=st.sampled_from(list(Sizing)),
    value=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(50_000), places=2),
)
def test_a_leaders_order_in_any_number_of_executions_costs_the_copy_what_one_execution_would(
    price: Decimal, equity: Decimal, leader_equity: Decimal, slices: list[int], sizing: Sizing, value: Decimal
) -> None:
    total = sum(slices)
    side = CopySide(sizing, value, None, equity, Decimal(10) ** 12, Decimal(0), Decimal(0))
    ordered, filled = Decimal(0), 0
    for size in slices:
        filled += size
        fill = LeaderFill(price, Decimal(0), Decimal(filled), Decimal(total), Decimal(filled), leader_equity)
        decision = mirror_buy(replace(side, ordered=ordered), fill, Decimal(0), cost(price))
        assert decision.quantity >= 0 and decision.quantity == decision.quantity.to_integral_value()
        ordered += decision.quantity
    at_once = LeaderFill(price, Decimal(0), Decimal(total), Decimal(total), Decimal(total), leader_equity)
    assert ordered == buy_target(side, at_once)


@given(cash=amounts, price=prices)
@example(cash=Decimal("404.92"), price=Decimal("0.50"))  # the proportional step once landed a share short
def test_a_copy_never_orders_more_than_its_cash_sets_aside(cash: Decimal, price: Decimal) -> None:
    affordable = affordable_shares(cash, price, cost(price))
    assert affordable >= 0
    if affordable:
        assert buy_hold(affordable, price, market=True, buffer_pct=BUFFER) <= cash
    assert buy_hold(affordable + 1, price, market=True, buffer_pct=BUFFER) > cash


@given(
    held=shares, before=st.integers(min_value=1, max_value=100_000), sold=st.integers(min_value=0, max_value=100_000)
)
def test_a_copy_sells_the_fraction_the_leader_sold_and_sells_out_with_them(
    held: Decimal, before: int, sold: int
) -> None:
    after = max(0, before - sold)
    fill = LeaderFill(Decimal(10), Decimal(before), Decimal(after), Decimal(sold), Decimal(sold), Decimal(1))
    decision = mirror_sell(copy_side(shares=held), fill)
    assert 0 <= decision.quantity <= held
    kept = held - decision.quantity
    assert kept * before <= held * after  # never keeps a larger fraction than the leader
    if after == 0:
        assert kept == 0


def test_a_copy_stops_when_its_stop_loss_or_take_profit_is_reached() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    copy = CopyRecord(
        uuid4(), uuid4(), uuid4(), CopyMode.COPY, CopyStatus.ACTIVE, Sizing.PROPORTIONAL, None, None,
        Decimal(20), Decimal(50), Decimal(1000), Decimal(0), "", False, now, now,
    )  # fmt: skip
    assert limit_hit(copy, Decimal(801)) is None
    assert (limit_hit(copy, Decimal(800)) or "").startswith("stop-loss hit")
    assert limit_hit(copy, Decimal(1499)) is None
    assert (limit_hit(copy, Decimal(1500)) or "").startswith("take-profit hit")
