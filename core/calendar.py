"""US business days for settlement: weekdays that are not NYSE holidays (with their weekend observance).

Sales settle T+1 (SEC rule 15c6-1, since May 2024): one business day after the trade date, the trade date taken
in New York.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


def trade_date(moment: datetime) -> date:
    return moment.astimezone(NEW_YORK).date()


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in nyse_holidays(day.year)


def add_business_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        count -= is_business_day(day)
    return day


def settlement_date(moment: datetime) -> date:
    return add_business_days(trade_date(moment), 1)


@cache
def nyse_holidays(year: int) -> frozenset[date]:
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 12, 25)]
    observed = {_observed(day) for day in fixed if year >= 2022 or day.month != 6}
    return frozenset(
        observed
        | {
            _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day: third Monday of January
            _nth_weekday(year, 2, 0, 3),  # Washington's Birthday: third Monday of February
            _easter(year) - timedelta(days=2),  # Good Friday
            _last_weekday(year, 5, 0),  # Memorial Day: last Monday of May
            _nth_weekday(year, 9, 0, 1),  # Labor Day: first Monday of September
            _nth_weekday(year, 11, 3, 4),  # Thanksgiving: fourth Thursday of November
        }
    )


def _observed(day: date) -> date:
    """A Saturday holiday is kept on Friday, a Sunday one on Monday (NYSE skips a Friday 31 December)."""
    if day.weekday() == 5:
        return day if (day.month, day.day) == (1, 1) else day - timedelta(days=1)
    return day + timedelta(days=1) if day.weekday() == 6 else day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)
