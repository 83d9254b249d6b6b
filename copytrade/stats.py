"""A leader's statistics for the copy-trading leaderboard, measured on the net asset value per unit.

Performance is time-weighted, like a fund's unit price: a deposit or a withdrawal changes the equity but not the
unit value, so a leader cannot look good by paying money in. Conventions a caller must know:

- A day's external flow is taken to arrive at the end of that day: it earns nothing that day and counts in the
  next day's base. A day whose previous equity is zero or negative has no return (the first deposit is not
  performance). A day that loses more than everything is a -100 % day: the unit value never goes below zero.
- Unit values, period returns, the drawdown and the win rate are `Decimal` ratios, computed in a fixed
  `_RATIO_DIGITS`-digit context (independent of the caller's) and left unrounded: round them for display.
- Daily returns, volatility and the Sharpe ratio are floats: they only feed sample statistics, which are
  estimates rather than amounts, and are never summed into money.
- Round-trip P&L is an exact `Decimal` amount in the instrument's currency, not rounded to cents.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from itertools import pairwise
from typing import Literal

from ledger.money import ZERO

TRADING_DAYS_PER_YEAR = 252
_RATIO_DIGITS = 28
_EXACT_DIGITS = 80  # sums of products of storable amounts stay exact
_ONE = Decimal(1)
# ESMA's SRRI classes: the upper bound (exclusive) of annualized volatility for classes 1 to 6; above is class 7
_SRRI_VOLATILITY_BOUNDS = (0.005, 0.02, 0.05, 0.10, 0.15, 0.25)


@dataclass(frozen=True)
class DailyEquity:
    """The investor's equity at the end of a trading day, and that day's net deposits minus withdrawals in it."""

    day: date
    equity: Decimal
    flow: Decimal


@dataclass(frozen=True)
class Fill:
    """One of the leader's own executions; the commission is a cost (zero or positive)."""

    at: datetime
    con_id: int
    side: Literal["buy", "sell"]
    quantity: Decimal
    price: Decimal
    commission: Decimal

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"a fill's side is buy or sell, not {self.side!r}")
        if self.quantity <= 0:
            raise ValueError(f"a fill's quantity must be positive, not {self.quantity}")


@dataclass(frozen=True)
class RoundTrip:
    """A position in one instrument from the first buy out of flat until it is flat again."""

    con_id: int
    opened_at: datetime
    closed_at: datetime
    pnl: Decimal


@dataclass(frozen=True)
class LeaderStats:
    """What the leaderboard shows of one leader; returns are fractions (0.1 for +10 %), None when not yet known."""

    return_7d: Decimal | None
    return_30d: Decimal | None
    return_90d: Decimal | None
    return_365d: Decimal | None
    return_since_start: Decimal | None
    max_drawdown: Decimal
    sharpe: float | None
    volatility: float | None
    win_rate: Decimal | None
    trades: int
    closed_trips: int
    average_holding: timedelta | None
    followers: int
    copied_aum: Decimal
    risk_score: int
    track_record_days: int


def _growth_factors(points: Sequence[DailyEquity]) -> Iterator[tuple[date, Decimal]]:
    """Each day's unit-value growth factor (E_t - F_t) / E_{t-1}, floored at zero; days without a base are left out."""
    for previous, point in pairwise(points):
        if point.day <= previous.day:
            raise ValueError(f"equity points must have ascending days: {point.day} follows {previous.day}")
        if previous.equity > 0:
            with localcontext(prec=_RATIO_DIGITS):
                factor = max(ZERO, (point.equity - point.flow) / previous.equity)
            yield point.day, factor


def daily_returns(points: Sequence[DailyEquity]) -> list[tuple[date, float]]:
    """The time-weighted return of each day that has a positive previous equity."""
    return [(day, float(factor - _ONE)) for day, factor in _growth_factors(points)]


def unit_values(points: Sequence[DailyEquity]) -> list[tuple[date, Decimal]]:
    """The value of one unit at the end of each day, starting at 1 on the first day; a day without a return keeps it."""
    if not points:
        return []
    factors = dict(_growth_factors(points))
    units = [(points[0].day, _ONE)]
    with localcontext(prec=_RATIO_DIGITS):
        for point in points[1:]:
            units.append((point.day, units[-1][1] * factors.get(point.day, _ONE)))
    return units


def _unit_on(units: Sequence[tuple[date, Decimal]], day: date) -> Decimal | None:
    """The unit value of the last day on or before `day`, None before the track record starts."""
    index = bisect_right([unit_day for unit_day, _ in units], day)
    return units[index - 1][1] if index else None


def period_return(units: Sequence[tuple[date, Decimal]], days: int, today: date) -> Decimal | None:
    """The return over the last `days` calendar days up to `today`; None if the record is shorter (or was wiped out)."""
    now, then = _unit_on(units, today), _unit_on(units, today - timedelta(days=days))
    if now is None or then is None or then == 0:
        return None
    with localcontext(prec=_RATIO_DIGITS):
        return now / then - _ONE


def return_since_start(units: Sequence[tuple[date, Decimal]]) -> Decimal | None:
    """The return from the first day to the last (the unit value starts at 1)."""
    if not units:
        return None
    with localcontext(prec=_RATIO_DIGITS):
        return units[-1][1] - _ONE


def max_drawdown(units: Sequence[tuple[date, Decimal]]) -> Decimal:
    """The largest fall of the unit value from a previous peak, as a positive fraction (0.25 for -25 %)."""
    peak, worst = ZERO, ZERO
    with localcontext(prec=_RATIO_DIGITS):
        for _, value in units:
            peak = max(peak, value)
            if peak > 0:
                worst = max(worst, (peak - value) / peak)
    return worst


def annual_volatility(returns: Sequence[float]) -> float | None:
    """The sample standard deviation of daily returns, annualized; None with fewer than two returns."""
    if len(returns) < 2:
        return None
    return statistics.stdev(returns) * math.sqrt(TRADING_DAYS_PER_YEAR)


def sharpe(returns: Sequence[float]) -> float | None:
    """The annualized Sharpe ratio of daily returns with a zero risk-free rate; None if it cannot be computed."""
    volatility = annual_volatility(returns)
    if not volatility:
        return None
    return statistics.fmean(returns) * TRADING_DAYS_PER_YEAR / volatility


@dataclass
class _OpenTrip:
    opened_at: datetime
    quantity: Decimal = ZERO
    proceeds: Decimal = ZERO
    cost: Decimal = ZERO


def round_trips(fills: Sequence[Fill]) -> list[RoundTrip]:
    """The leader's closed round trips, in the order they closed.

    Trades are long only: a sell beyond the open quantity is clamped to it (its whole commission still counts),
    and a sell with nothing open is ignored, as it would be a short or a position bought before the record.
    A trip still open at the end is left out. Once a trip is flat all of its cost has been released, so average
    cost (or any method) gives the trip's P&L as everything received minus everything paid, commissions included.
    """
    open_trips: dict[int, _OpenTrip] = {}
    closed: list[RoundTrip] = []
    with localcontext(prec=_EXACT_DIGITS):
        for fill in sorted(fills, key=lambda f: f.at):
            trip = open_trips.get(fill.con_id)
            if fill.side == "buy":
                trip = open_trips.setdefault(fill.con_id, _OpenTrip(opened_at=fill.at))
                trip.quantity += fill.quantity
                trip.cost += fill.quantity * fill.price + fill.commission
            elif trip is not None:
                sold = min(fill.quantity, trip.quantity)
                trip.quantity -= sold
                trip.proceeds += sold * fill.price - fill.commission
                if trip.quantity == 0:
                    del open_trips[fill.con_id]
                    closed.append(RoundTrip(fill.con_id, trip.opened_at, fill.at, trip.proceeds - trip.cost))
    return closed


def win_rate(trips: Sequence[RoundTrip]) -> Decimal | None:
    """The share of closed trips that made money; None before the first one closes."""
    if not trips:
        return None
    with localcontext(prec=_RATIO_DIGITS):
        return Decimal(sum(1 for trip in trips if trip.pnl > 0)) / len(trips)


def average_holding(trips: Sequence[RoundTrip]) -> timedelta | None:
    """How long a closed trip lasted on average."""
    if not trips:
        return None
    return sum((trip.closed_at - trip.opened_at for trip in trips), timedelta()) / len(trips)


def risk_score(volatility: float | None, max_drawdown: Decimal) -> int:
    """A risk class from 1 (lowest) to 7 (highest), on the scale of the UCITS key investor document (SRRI).

    Annualized volatility below 0.5 %, 2 %, 5 %, 10 %, 15 % and 25 % gives 1 to 6, anything higher 7. A maximum
    drawdown worse than 30 % raises the class by one, worse than 50 % by two, never above 7: volatility alone
    misses a leader who lost heavily in a few steps.
    """
    # too short a record to measure volatility gives the middle class: it claims neither safety nor danger
    score = 4 if volatility is None else 1 + sum(1 for bound in _SRRI_VOLATILITY_BOUNDS if volatility >= bound)
    if max_drawdown > Decimal("0.5"):
        score += 2
    elif max_drawdown > Decimal("0.3"):
        score += 1
    return min(score, 7)


def leader_stats(
    points: Sequence[DailyEquity], fills: Sequence[Fill], today: date, followers: int, copied_aum: Decimal
) -> LeaderStats:
    """Everything the leaderboard shows of one leader, from their daily equity and their own fills."""
    units = unit_values(points)
    returns = [value for _, value in daily_returns(points)]
    trips = round_trips(fills)
    drawdown = max_drawdown(units)
    volatility = annual_volatility(returns)
    return LeaderStats(
        return_7d=period_return(units, 7, today),
        return_30d=period_return(units, 30, today),
        return_90d=period_return(units, 90, today),
        return_365d=period_return(units, 365, today),
        return_since_start=return_since_start(units),
        max_drawdown=drawdown,
        sharpe=sharpe(returns),
        volatility=volatility,
        win_rate=win_rate(trips),
        trades=len(fills),
        closed_trips=len(trips),
        average_holding=average_holding(trips),
        followers=followers,
        copied_aum=copied_aum,
        risk_score=risk_score(volatility, drawdown),
        track_record_days=(points[-1].day - points[0].day).days if points else 0,
    )
