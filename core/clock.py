"""Where "now" comes from: the system clock in production, a manual clock in tests and simulations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def require_utc(moment: datetime) -> datetime:
    """Return `moment` in UTC; a naive datetime is a bug, so it is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: times must be timezone-aware")
    return moment.astimezone(UTC)


class ManualClock:
    """A clock that only moves when told to, so tests and simulations are repeatable."""

    def __init__(self, start: datetime) -> None:
        self._now = require_utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a clock does not run backwards")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        moment = require_utc(moment)
        if moment < self._now:
            raise ValueError("a clock does not run backwards")
        self._now = moment
