"""A leader's leaderboard statistics: NAV-based returns, drawdown, Sharpe, round trips and the risk class."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copytrade.stats import (
    DailyEquity,
    Fill,
    RoundTrip,
    annual_volatility,
    average_holding,
    daily_returns,
    leader_stats,
    max_drawdown,
    period_return,
    return_since_start,
    risk_score,
    round_trips,
    sharpe,
    unit_values,
    win_rate,
)

D = Decimal
MONDAY = date(2026, 1, 5)
OPEN = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def day(n: int) -> date:
    return MONDAY + timedelta(days=n)


def at(hours: float) -> datetime:
    return OPEN + timedelta(hours=hours)


def series(*rows: tuple[str, str]) -> list[DailyEquity]:
    """One point a day from MONDAY: (equity, flow)."""
    return [DailyEquity(day(n), D(equity), D(flow)) for n, (equity, flow) in enumerate(rows)]


def fill(
    hours: float, side: Literal["buy", "sell"], quantity: str, price: str, commission: str = "0", con_id: int = 1
) -> Fill:
    return Fill(at(hours), con_id, side, D(quantity), D(price), D(commission))


# 100 deposited, +10 % (110), 110 more deposited on a flat day (220), -10 % (198)
HAND = series(("100", "100"), ("110", "0"), ("220", "110"), ("198", "0"))


def test_returns_are_time_weighted_so_a_deposit_is_not_performance() -> None:
    assert daily_returns(HAND) == [(day(1), 0.1), (day(2), 0.0), (day(3), -0.1)]
    assert unit_values(HAND) == [(day(0), D(1)), (day(1), D("1.1")), (day(2), D("1.1")), (day(3), D("0.99"))]
    assert max_drawdown(unit_values(HAND)) == D("0.1")
    assert return_since_start(unit_values(HAND)) == D("-0.01")


def test_deposits_and_withdrawals_leave_returns_unchanged() -> None:
    """Three days of +10 %; on the third the investor also pays 50 in, or takes 10 out, at the end of the day."""
    plain = series(("100", "100"), ("110", "0"), ("121", "0"))
    deposit = series(("100", "100"), ("110", "0"), ("171", "50"))
    withdrawal = series(("100", "100"), ("110", "0"), ("111", "-10"))
    assert daily_returns(plain) == daily_returns(deposit) == daily_returns(withdrawal)
    assert unit_values(plain) == unit_values(deposit) == unit_values(withdrawal)
    assert unit_values(plain)[-1][1] == D("1.21")


def test_a_day_without_positive_previous_equity_has_no_return() -> None:
    """An account opened empty is funded on day 1: nothing before it counts, and the unit value stays at 1."""
    points = series(("0", "0"), ("500", "500"), ("550", "0"))
    assert daily_returns(points) == [(day(2), 0.1)]
    assert unit_values(points) == [(day(0), D(1)), (day(1), D(1)), (day(2), D("1.1"))]


def test_losing_more_than_everything_is_a_total_loss_not_a_negative_unit() -> None:
    points = series(("100", "100"), ("-20", "0"), ("50", "70"))
    assert daily_returns(points) == [(day(1), -1.0)]
    assert [value for _, value in unit_values(points)] == [D(1), D(0), D(0)]
    assert max_drawdown(unit_values(points)) == D(1)


def test_days_out_of_order_are_refused() -> None:
    points = [DailyEquity(day(1), D(100), D(100)), DailyEquity(day(1), D(101), D(0))]
    with pytest.raises(ValueError, match="ascending"):
        unit_values(points)


def test_drawdown_is_measured_from_the_running_peak() -> None:
    """Peaks at 1.2, falls to 0.9 (-25 %), recovers above the peak, then falls 10 %: the worst fall is 25 %."""
    points = series(("100", "100"), ("120", "0"), ("90", "0"), ("130", "0"), ("117", "0"))
    assert max_drawdown(unit_values(points)) == D("0.25")
    assert max_drawdown([]) == D(0)


def test_period_returns_use_the_last_unit_on_or_before_the_start() -> None:
    """Trading days with a gap: day 0 at 1, day 3 at 1.1, day 8 at 1.21; no point exists on day 1 or 4."""
    units = [(day(0), D(1)), (day(3), D("1.1")), (day(8), D("1.21"))]
    assert period_return(units, 7, today=day(8)) == D("0.21")  # from day 1, which still holds day 0's value
    assert period_return(units, 5, today=day(8)) == D("0.1")  # from day 3
    assert period_return(units, 4, today=day(8)) == D("0.1")  # from day 4, holding day 3's value
    assert period_return(units, 7, today=day(10)) == D("0.1")  # today after the last point: the last value stands


def test_periods_longer_than_the_track_record_are_unknown() -> None:
    units = unit_values(HAND)
    assert period_return(units, 3, today=day(3)) == D("-0.01")
    assert period_return(units, 4, today=day(3)) is None
    assert period_return([], 7, today=day(3)) is None
    assert return_since_start([]) is None


def test_volatility_and_sharpe_are_annualized_from_the_sample() -> None:
    assert annual_volatility([0.1, 0.0, -0.1]) == pytest.approx(0.1 * math.sqrt(252))
    assert sharpe([0.1, 0.0, -0.1]) == pytest.approx(0.0)
    # mean 0.02, sample deviation 0.01 * sqrt(2)
    assert sharpe([0.01, 0.03]) == pytest.approx(math.sqrt(2) * math.sqrt(252))


@pytest.mark.parametrize("returns", [[], [0.05], [0.01, 0.01, 0.01]])
def test_sharpe_needs_two_returns_that_vary(returns: list[float]) -> None:
    assert sharpe(returns) is None


def test_volatility_needs_two_returns() -> None:
    assert annual_volatility([0.05]) is None
    assert annual_volatility([0.01, 0.01]) == 0.0


def test_a_round_trip_with_partial_fills_and_commissions() -> None:
    """Buy 10 @ 100 and 10 @ 110 (average 105), sell 5 @ 120 then 15 @ 100, paying 1 on each fill.

    Costs 1000 + 1100 + 2 = 2102; proceeds 600 + 1500 - 2 = 2098; the trip lost 4.
    """
    fills = [
        fill(0, "buy", "10", "100", "1"),
        fill(1, "buy", "10", "110", "1"),
        fill(2, "sell", "5", "120", "1"),
        fill(26, "sell", "15", "100", "1"),
    ]
    assert round_trips(fills) == [RoundTrip(1, at(0), at(26), D(-4))]


def test_trips_are_kept_per_instrument_and_open_ones_are_left_out() -> None:
    fills = [
        fill(0, "buy", "10", "50", con_id=1),
        fill(1, "buy", "3", "20", "0.5", con_id=2),
        fill(2, "sell", "10", "55", con_id=1),
        fill(3, "buy", "1", "60", con_id=1),  # a second trip in instrument 1, still open
        fill(4, "sell", "3", "19", "0.5", con_id=2),
    ]
    assert round_trips(fills) == [RoundTrip(1, at(0), at(2), D(50)), RoundTrip(2, at(1), at(4), D(-4))]


def test_selling_more_than_is_held_is_clamped_and_a_sell_from_flat_ignored() -> None:
    fills = [
        fill(0, "sell", "4", "10", "1"),  # nothing open: a short or a position from before the record
        fill(1, "buy", "5", "10"),
        fill(2, "sell", "8", "12", "1"),  # only 5 were held: 60 - 1 received
    ]
    assert round_trips(fills) == [RoundTrip(1, at(1), at(2), D(9))]


def test_fills_must_be_buys_or_sells_of_a_positive_quantity() -> None:
    with pytest.raises(ValueError, match="side"):
        Fill(OPEN, 1, "short", D(1), D(1), D(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quantity"):
        fill(0, "buy", "0", "10")


def test_win_rate_and_average_holding() -> None:
    trips = [
        RoundTrip(1, at(0), at(2), D(5)),
        RoundTrip(2, at(0), at(4), D(0)),  # breaking even is not a win
        RoundTrip(3, at(1), at(4), D(-3)),
        RoundTrip(4, at(1), at(24), D("0.01")),
    ]
    assert win_rate(trips) == D("0.5")
    assert average_holding(trips) == timedelta(hours=8)
    assert win_rate([]) is None
    assert average_holding([]) is None


@pytest.mark.parametrize(
    ("volatility", "score"),
    [(0.0, 1), (0.0049, 1), (0.005, 2), (0.0199, 2), (0.02, 3), (0.05, 4), (0.0999, 4), (0.10, 5), (0.15, 6),
     (0.2499, 6), (0.25, 7), (1.5, 7)],
)  # fmt: skip
def test_risk_class_follows_the_srri_volatility_buckets(volatility: float, score: int) -> None:
    assert risk_score(volatility, D(0)) == score


@pytest.mark.parametrize(
    ("volatility", "drawdown", "score"),
    [(0.03, "0.30", 3), (0.03, "0.31", 4), (0.03, "0.50", 4), (0.03, "0.51", 5), (0.20, "0.6", 7), (0.3, "0.9", 7)],
)
def test_a_deep_drawdown_raises_the_risk_class(volatility: float, drawdown: str, score: int) -> None:
    assert risk_score(volatility, D(drawdown)) == score


def test_an_unmeasured_volatility_is_the_middle_class() -> None:
    assert risk_score(None, D(0)) == 4
    assert risk_score(None, D("0.4")) == 5


def test_leader_stats_gathers_everything() -> None:
    fills = [fill(0, "buy", "1", "100"), fill(24, "sell", "1", "110", "1"), fill(48, "buy", "2", "90")]
    stats = leader_stats(HAND, fills, today=day(3), followers=12, copied_aum=D("25000.00"))
    assert stats.return_7d is None
    assert stats.return_since_start == D("-0.01")
    assert stats.max_drawdown == D("0.1")
    assert stats.sharpe == pytest.approx(0.0)
    assert stats.volatility == pytest.approx(0.1 * math.sqrt(252))
    assert stats.win_rate == D(1)
    assert (stats.trades, stats.closed_trips, stats.average_holding) == (3, 1, timedelta(days=1))
    assert (stats.followers, stats.copied_aum, stats.track_record_days) == (12, D("25000.00"), 3)
    assert stats.risk_score == 7  # 159 % annualized volatility


def test_leader_stats_of_an_empty_record() -> None:
    stats = leader_stats([], [], today=MONDAY, followers=0, copied_aum=D(0))
    assert (stats.return_since_start, stats.sharpe, stats.volatility, stats.win_rate) == (None, None, None, None)
    assert (stats.max_drawdown, stats.track_record_days, stats.risk_score) == (D(0), 0, 4)


money = st.decimals(min_value=D("0.01"), max_value=D(1_000_000), places=2)


@given(st.lists(money, min_size=1, max_size=30))
def test_flows_alone_never_move_the_unit_value(equities: list[Decimal]) -> None:
    """Each day's equity differs from the day before only by a deposit or a withdrawal."""
    flows = [equities[0], *(today - yesterday for yesterday, today in pairwise(equities))]
    points = [DailyEquity(day(n), e, f) for n, (e, f) in enumerate(zip(equities, flows, strict=True))]
    assert all(value == 0.0 for _, value in daily_returns(points))
    assert all(value == 1 for _, value in unit_values(points))


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=D(-1000), max_value=D(1_000_000), places=2),
            st.decimals(min_value=D(-1_000_000), max_value=D(1_000_000), places=2),
        ),
        max_size=30,
    )
)
def test_drawdown_is_a_fraction_between_zero_and_one(rows: list[tuple[Decimal, Decimal]]) -> None:
    points = [DailyEquity(day(n), equity, flow) for n, (equity, flow) in enumerate(rows)]
    assert 0 <= max_drawdown(unit_values(points)) <= 1


@given(
    st.none() | st.floats(min_value=0, max_value=100, allow_nan=False),
    st.decimals(min_value=0, max_value=1, places=4),
)
def test_risk_class_is_always_one_to_seven(volatility: float | None, drawdown: Decimal) -> None:
    assert 1 <= risk_score(volatility, drawdown) <= 7


trades = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=3),
        st.booleans(),
        st.decimals(min_value=D("0.0001"), max_value=D(10_000), places=4),
        st.decimals(min_value=D("0.01"), max_value=D(5_000), places=4),
        st.decimals(min_value=D(0), max_value=D(10), places=2),
    ),
    max_size=40,
)


@given(trades)
def test_trip_pnl_adds_up_to_proceeds_minus_costs_when_everything_ends_flat(
    steps: list[tuple[int, bool, Decimal, Decimal, Decimal]],
) -> None:
    held: dict[int, Decimal] = {}
    fills: list[Fill] = []
    for con_id, buying, wanted, price, commission in steps:
        quantity = wanted if buying else min(wanted, held.get(con_id, D(0)))
        if quantity > 0:
            held[con_id] = held.get(con_id, D(0)) + (quantity if buying else -quantity)
            fills.append(Fill(at(len(fills)), con_id, "buy" if buying else "sell", quantity, price, commission))
    for con_id, quantity in held.items():
        if quantity > 0:
            fills.append(Fill(at(len(fills)), con_id, "sell", quantity, D("7.5"), D(1)))
    received = sum((f.quantity * f.price - f.commission for f in fills if f.side == "sell"), D(0))
    paid = sum((f.quantity * f.price + f.commission for f in fills if f.side == "buy"), D(0))
    assert sum((trip.pnl for trip in round_trips(fills)), D(0)) == received - paid
