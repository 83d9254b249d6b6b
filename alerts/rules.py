"""What a price alert is and when it fires. Pure: the watcher brings prices and the time.

- above L: fires when the last price is at or above L; below L: at or below L.
- move P %: fires when the price has moved P % either way from its reference (the price when it was set, then
  the price it last fired at, so each further move of P % fires again).
- One-shot alerts end when they fire. A repeating one fires again only after its cooldown and, for above and
  below, only once the price has come back across the level (it is disarmed until then): a price that sits
  above the level fires once, not on every tick.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

HUNDRED = Decimal(100)


class Condition(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    MOVE = "move"


@dataclass(frozen=True)
class PriceAlert:
    id: UUID
    owner_id: UUID
    con_id: int
    symbol: str
    condition: Condition
    level: Decimal  # a price (above, below) or a percentage (move)
    reference: Decimal | None  # move: the price the move is measured from
    repeat: bool
    cooldown: timedelta
    armed: bool = True
    fired_count: int = 0
    last_fired_at: datetime | None = None

    def waits_for(self) -> list[tuple[str, Decimal, bool]]:
        """The levels it waits for now, as (name, price, upper): upper levels are reached from below."""
        if self.condition is Condition.MOVE:
            assert self.reference is not None
            step = self.reference * self.level / HUNDRED
            return [("up", self.reference + step, True), ("down", self.reference - step, False)]
        upper = self.condition is Condition.ABOVE
        if self.armed:
            return [("fire", self.level, upper)]
        return [("rearm", self.level, not upper)]  # back across the level arms it again

    def cooling(self, now: datetime) -> bool:
        return self.last_fired_at is not None and now < self.last_fired_at + self.cooldown

    def holds_at(self, price: Decimal) -> bool:
        """Whether the alert's condition holds at this price (whatever its state)."""
        if self.condition is Condition.ABOVE:
            return price >= self.level
        if self.condition is Condition.BELOW:
            return price <= self.level
        assert self.reference is not None
        return abs(price - self.reference) * HUNDRED >= self.level * self.reference


@dataclass(frozen=True)
class Fired:
    """An alert that fired: as it was, the price, and what it is now (None: a one-shot alert, done)."""

    alert: PriceAlert
    price: Decimal
    at: datetime
    after: PriceAlert | None


def on_level(alert: PriceAlert, name: str, price: Decimal, now: datetime) -> tuple[PriceAlert, Fired | None]:
    """The alert after the price reached its level `name`: fired, re-armed, or (cooling down) unchanged."""
    if name == "rearm":  # back across the level, strictly: a price sitting on it has not come back
        return (alert, None) if alert.holds_at(price) else (replace(alert, armed=True), None)
    if alert.cooling(now) or not alert.holds_at(price):
        return alert, None
    if not alert.repeat:
        fired = replace(alert, fired_count=alert.fired_count + 1, last_fired_at=now)
        return fired, Fired(alert, price, now, None)
    after = replace(alert, fired_count=alert.fired_count + 1, last_fired_at=now)
    after = replace(after, reference=price) if alert.condition is Condition.MOVE else replace(after, armed=False)
    return after, Fired(alert, price, now, after)
