"""The daily summary, for investors who asked for it (`/notifications summary on|silent`): after the close
(16:30 New York, on a trading day), their own book's value and the day's P&L (money moved in or out taken
out), the day's fills, and the price alerts that fired. One message a day each: the outbox key is the day's."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, select

from alerts.store import ALERTS
from core import notifications
from core.calendar import NEW_YORK, is_business_day
from core.db import Database, UnitOfWork
from core.leases import Lease
from core.outbox import Message, publish
from core.rounds import Rounds
from ledger.flows import flows_by_day, moved_after
from ledger.instruments import symbols_of
from ledger.portfolio import NAV
from ledger.statement import lines_between

AFTER_THE_CLOSE = time(16, 30)
FAR = datetime(9999, 1, 1, tzinfo=UTC)


class DailySummaries:
    def __init__(self, db: Database, every_seconds: float = 300) -> None:
        self._db = db
        self._rounds = Rounds("daily summaries", self.run, every_seconds)
        self._done: date | None = None

    def start(self, lease: Lease | None = None) -> None:
        self._rounds.start(lease)

    async def stop(self) -> None:
        await self._rounds.stop()

    async def run(self) -> int:
        """Write today's summaries once the close is past; how many were written (0 before, or once done)."""
        now = self._db.clock.now().astimezone(NEW_YORK)
        if self._done == now.date() or not is_business_day(now.date()) or now.time() < AFTER_THE_CLOSE:
            return 0
        written = await self._db.transact(lambda uow: write_summaries(uow, now.date()))
        self._done = now.date()
        return written


async def write_summaries(uow: UnitOfWork, day: date) -> int:
    readers = [owner for owner, _mode in await notifications.audience(uow, "summary")]
    if not readers:
        return 0
    start = datetime.combine(day, time(), NEW_YORK)
    values = await _values(uow, readers, day)
    earliest = min((value.before_day for value in values.values() if value.before_day), default=day)
    moved = await flows_by_day(uow, datetime.combine(earliest, time(), NEW_YORK), readers)
    fills = await _fills(uow, readers, start)
    fired = await _alerts_fired(uow, readers, start)
    messages = []
    for owner in readers:
        value = values.get(owner, Values())
        pnl = None
        if value.today is not None and value.before is not None and value.before_day is not None:
            # Money moved since the last value (a day may have gone unvalued) is neither gain nor loss.
            pnl = value.today - value.before - moved_after(moved.get(owner, {}), value.before_day)
        facts: dict[str, Any] = {
            "owner_id": str(owner),
            "day": day.isoformat(),
            "equity": None if value.today is None else str(value.today),
            "pnl": None if pnl is None else str(pnl),
            "pct": None if pnl is None or not value.before else f"{pnl / value.before * 100:.2f}",
            "fills": fills.get(owner, []),
            "alerts": fired.get(owner, 0),
        }
        messages.append(Message("report.daily", f"summary/{owner}/{day.isoformat()}", facts))
    await publish(uow, messages)
    return len(messages)


@dataclass(frozen=True)
class Values:
    today: Decimal | None = None  # the risk watch's last value of the day
    before_day: date | None = None  # the last day before today with a value
    before: Decimal | None = None


async def _values(uow: UnitOfWork, owners: list[UUID], day: date) -> dict[UUID, Values]:
    query = select(NAV.c.owner_id, NAV.c.day, NAV.c.equity).where(NAV.c.owner_id.in_(owners), NAV.c.day <= day)
    found: dict[UUID, Values] = {}
    for owner, when, equity in await uow.connection.execute(query.order_by(NAV.c.day)):
        known = found.get(owner, Values())
        found[owner] = replace(known, today=equity) if when == day else replace(known, before_day=when, before=equity)
    return found


async def _fills(uow: UnitOfWork, owners: list[UUID], since: datetime) -> dict[UUID, list[dict[str, str]]]:
    """The day's trades of each own book, from the ledger (what was booked today, corrections included): shares
    and the cash they cost or brought, commission in."""
    found: dict[UUID, list[dict[str, str]]] = {}
    for owner in owners:
        lines = [line for line in await lines_between(uow, owner, since, FAR) if line.kind == "trade"]
        con_ids = {c.asset.con_id for line in lines for c in line.changes if c.asset.con_id}
        symbols = await symbols_of(uow, con_ids)
        for line in lines:
            own = [c for c in line.changes if not c.in_copy]
            cash = sum((c.amount for c in own if c.asset.is_cash), Decimal(0))
            for change in own:
                if change.asset.con_id and change.amount:
                    fill = {"side": "buy" if change.amount > 0 else "sell", "quantity": str(abs(change.amount)),
                            "symbol": symbols.get(change.asset.con_id, "?"), "cash": str(cash)}  # fmt: skip
                    found.setdefault(owner, []).append(fill)
    return found


async def _alerts_fired(uow: UnitOfWork, owners: list[UUID], since: datetime) -> dict[UUID, int]:
    query = (
        select(ALERTS.c.owner_id, func.count())
        .where(ALERTS.c.owner_id.in_(owners), ALERTS.c.last_fired_at >= since)
        .group_by(ALERTS.c.owner_id)
    )
    return dict((await uow.connection.execute(query)).all())
