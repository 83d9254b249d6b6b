"""Trading halts: the kill switch (conId 0) stops every new order; a halt on one instrument stops its orders."""

from __future__ import annotations

from sqlalchemy import Table, select

from core.db import UnitOfWork, dialect_insert
from core.sql import in_list

from .models import TradingHalt

HALTS: Table = TradingHalt.__table__  # type: ignore[assignment]
KILL_SWITCH = 0  # the con_id of the global halt


async def halts_for(uow: UnitOfWork, con_id: int) -> list[tuple[int, str]]:
    """The halts that stop an order in this instrument: (con_id, reason), the kill switch's con_id being 0."""
    query = select(HALTS.c.con_id, HALTS.c.reason).where(in_list(HALTS.c.con_id, "ids"))
    return [(row.con_id, row.reason) for row in await uow.connection.execute(query, {"ids": [KILL_SWITCH, con_id]})]


async def set_halt(uow: UnitOfWork, con_id: int, reason: str) -> None:
    statement = dialect_insert(uow, HALTS).values(con_id=con_id, reason=reason[:300], since=uow.clock.now())
    await uow.connection.execute(statement.on_conflict_do_nothing())


async def clear_halt(uow: UnitOfWork, con_id: int) -> None:
    await uow.connection.execute(HALTS.delete().where(HALTS.c.con_id == con_id))
