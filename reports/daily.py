"""The daily summary, for investors who asked for it (`/notifications summary on|silent`): after the close
(16:30 New York, on a trading day), their own book's value and the day's P&L (money moved in or out taken
out), the day's fills, and the price alerts that fired. One message a day each: the outbox key is the day's."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, select

from alerts.store import ALERTS
from broker.order_store import ORDERS
from core import notifications
from core.calendar import NEW_YORK, is_business_day
from core.db import Database, UnitOfWork
from core.outbox import Message, publish
from core.rounds import Rounds
from ledger.flows import flows_since
from ledger.instruments import symbols_of
from ledger.portfolio import NAV

AFTER_THE_CLOSE = time(16, 30)


class DailySummaries:
    def __init__(self, db: Database, every_seconds: float = 300) -> None:
        self._db = db
        self._rounds = Rounds("daily summaries", self.run, every_seconds)
        self._done: date | None = None

    def start(self) -> None:
        self._rounds.start()

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
    moved = await flows_since(uow, start, readers)
    fills = await _fills(uow, readers, start)
    fired = await _alerts_fired(uow, readers, start)
    messages = []
    for owner in readers:
        today, before = values.get(owner, (None, None))
        pnl = None if today is None or before is None else today - before - moved.get(owner, Decimal(0))
        facts: dict[str, Any] = {
            "owner_id": str(owner),
            "day": day.isoformat(),
            "equity": None if today is None else str(today),
            "pnl": None if pnl is None else str(pnl),
            "pct": None if pnl is None or not before else f"{pnl / before * 100:.2f}",
            "fills": fills.get(owner, []),
            "alerts": fired.get(owner, 0),
        }
        messages.append(Message("report.daily", f"summary/{owner}/{day.isoformat()}", facts))
    await publish(uow, messages)
    return len(messages)


async def _values(uow: UnitOfWork, owners: list[UUID], day: date) -> dict[UUID, tuple[Decimal | None, Decimal | None]]:
    """Today's value of each book (the risk watch's last of the day), and the last one before today."""
    query = select(NAV.c.owner_id, NAV.c.day, NAV.c.equity).where(NAV.c.owner_id.in_(owners), NAV.c.day <= day)
    found: dict[UUID, tuple[Decimal | None, Decimal | None]] = {}
    for owner, when, equity in await uow.connection.execute(query.order_by(NAV.c.day)):
        today, before = found.get(owner, (None, None))
        found[owner] = (equity, before) if when == day else (today, equity)  # by day: the last before today stays
    return found


async def _fills(uow: UnitOfWork, owners: list[UUID], since: datetime) -> dict[UUID, list[dict[str, str]]]:
    query = (
        select(ORDERS.c.owner_id, ORDERS.c.side, ORDERS.c.con_id, ORDERS.c.filled_quantity, ORDERS.c.filled_gross)
        .where(
            ORDERS.c.owner_id.in_(owners),
            ORDERS.c.sleeve_id.is_(None),
            ORDERS.c.filled_quantity > 0,
            ORDERS.c.updated_at >= since,
        )
        .order_by(ORDERS.c.updated_at)
    )
    rows = (await uow.connection.execute(query)).all()
    symbols = await symbols_of(uow, {row.con_id for row in rows})
    found: dict[UUID, list[dict[str, str]]] = {}
    for row in rows:
        price = row.filled_gross / row.filled_quantity
        fill = {"side": row.side.value, "quantity": str(row.filled_quantity), "symbol": symbols.get(row.con_id, "?"),
                "price": str(price.quantize(Decimal("0.0001")))}  # fmt: skip
        found.setdefault(row.owner_id, []).append(fill)
    return found


async def _alerts_fired(uow: UnitOfWork, owners: list[UUID], since: datetime) -> dict[UUID, int]:
    query = (
        select(ALERTS.c.owner_id, func.count())
        .where(ALERTS.c.owner_id.in_(owners), ALERTS.c.last_fired_at >= since)
        .group_by(ALERTS.c.owner_id)
    )
    return dict((await uow.connection.execute(query)).all())
