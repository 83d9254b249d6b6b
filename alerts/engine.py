"""The price watch in memory: every active price alert and protective order, by the levels they wait for. A tick
(an instrument's new price) returns what it set off: alerts fired, alerts re-armed, protective orders hit. Pure:
the watcher (alerts/watcher.py) brings the ticks and keeps the database in step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from .models import ProtectKind
from .rules import Fired, PriceAlert, on_level
from .triggers import TriggerBook

LEVEL_NAMES = ("fire", "rearm", "up", "down", "protect")


@dataclass(frozen=True)
class Protective:
    id: UUID
    owner_id: UUID
    con_id: int
    symbol: str
    kind: ProtectKind
    trigger: Decimal
    quantity: Decimal | None  # None: the whole position


@dataclass
class Tick:
    fired: list[Fired] = field(default_factory=list)
    rearmed: list[PriceAlert] = field(default_factory=list)
    hit: list[Protective] = field(default_factory=list)
    paired: list[Protective] = field(default_factory=list)  # the other half of each pair hit, set aside with it

    def __bool__(self) -> bool:
        return bool(self.fired or self.rearmed or self.hit)


class AlertEngine:
    def __init__(self) -> None:
        self._book: TriggerBook[tuple[UUID, str]] = TriggerBook()
        self.alerts: dict[UUID, PriceAlert] = {}
        self.protective: dict[UUID, Protective] = {}

    def __len__(self) -> int:
        return len(self.alerts) + len(self.protective)

    def instruments(self) -> set[int]:
        return self._book.instruments()

    def watch(self, alert: PriceAlert) -> None:
        self.forget(alert.id)
        self.alerts[alert.id] = alert
        for name, level, upper in alert.waits_for():
            self._book.place((alert.id, name), alert.con_id, level, upper=upper)

    def watch_protective(self, order: Protective) -> None:
        self.forget(order.id)
        self.protective[order.id] = order
        upper = order.kind is ProtectKind.TARGET
        self._book.place((order.id, "protect"), order.con_id, order.trigger, upper=upper)

    def forget(self, watched_id: UUID) -> None:
        self.alerts.pop(watched_id, None)
        self.protective.pop(watched_id, None)
        for name in LEVEL_NAMES:
            self._book.discard((watched_id, name))

    def tick(self, con_id: int, price: Decimal, now: datetime) -> Tick:
        found = Tick()
        for watched_id, name in self._book.reached(con_id, price):
            if name == "protect":
                order = self.protective.get(watched_id)
                if order is not None:
                    self._hit(order, found)
                continue
            alert = self.alerts.get(watched_id)
            if alert is None:  # fired by its other level in this very tick
                continue
            after, fired = on_level(alert, name, price, now)
            if fired is not None:
                found.fired.append(fired)
                if fired.after is None:
                    self.forget(alert.id)
                    continue
            elif after is not alert:
                found.rearmed.append(after)
            if after is not alert:
                self.watch(after)
        return found

    def _hit(self, order: Protective, found: Tick) -> None:
        found.hit.append(order)
        self.forget(order.id)
        for other in list(self.protective.values()):
            if (other.owner_id, other.con_id) == (order.owner_id, order.con_id):
                found.paired.append(other)
                self.forget(other.id)
