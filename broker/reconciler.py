"""The reconciler: looks at IB (positions, cash, the day's executions) and at the books, and keeps the breaks
(ledger/reconciliation.py): periodically, and when an admin asks. A new break is told to the admins
(topic admin.reconciliation_break); with `OMNIBOT_RECONCILIATION_HALT` a position or cash break also halts
trading (the kill switch) until an admin resumes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select

from core import metrics
from core.config import Settings
from core.db import Database, UnitOfWork
from core.outbox import Message, publish
from ledger import reconciliation
from ledger.accounts import AccountKind
from ledger.reconciliation import CASH, POSITION, Facts, OpenBreak
from ledger.store import ACCOUNTS

from . import halts
from . import order_store as store
from .connection import IBConnection
from .events import ExecutionSeen
from .omnibus import OmnibusAccount

InTransit = Callable[[UnitOfWork], Awaitable[Decimal]]  # money sent to IB, not yet booked as arrived


async def nothing_in_transit(_uow: UnitOfWork) -> Decimal:
    return Decimal(0)


class Reconciler:
    def __init__(
        self,
        db: Database,
        connection: IBConnection,
        omnibus: OmnibusAccount,
        settings: Settings,
        in_transit: InTransit = nothing_in_transit,
    ) -> None:
        self._db, self._connection, self._omnibus, self._settings = db, connection, omnibus, settings
        self._in_transit = in_transit

    async def run(self) -> list[OpenBreak]:
        """Reconcile now; the breaks open after this look."""
        ib_positions = await self._omnibus.positions()
        ib_cash = (await self._omnibus.summary()).get("TotalCashValue")
        executions = await self._connection.executions()
        breaks = await self._db.transact(lambda uow: self._compare(uow, ib_positions, ib_cash, executions))
        metrics.RECONCILIATION_BREAKS.set(len(breaks))
        return breaks

    async def _compare(
        self, uow: UnitOfWork, ib_positions: dict[int, Decimal], ib_cash: Decimal | None, seen: list[ExecutionSeen]
    ) -> list[OpenBreak]:
        books_positions, books_cash = await _books(uow)
        booked = await store.executions_booked(uow, [e.exec_id for e in seen])
        grace = uow.clock.now() - timedelta(seconds=self._settings.reconciliation_grace_seconds)
        in_flight: dict[int, Decimal] = defaultdict(Decimal)
        unbooked = []
        for execution in seen:
            if execution.exec_id in booked:
                continue
            if not _ours(execution.order_ref):
                unbooked.append((execution.exec_id, "an execution of an order placed outside the platform"))
            elif execution.at >= grace:
                in_flight[execution.con_id] += execution.shares  # its fill is on its way
            else:
                unbooked.append((execution.exec_id, "an execution of ours that was never booked (its commission?)"))
        facts = Facts(books_positions, ib_positions, books_cash, ib_cash, await self._in_transit(uow), in_flight,
                      unbooked)  # fmt: skip
        found = reconciliation.breaks(facts, self._settings.reconciliation_cash_tolerance)
        open_now, new = await reconciliation.save(uow, found)
        if new:
            await publish(uow, [_alert(item, uow.clock.now().isoformat()) for item in new])
        if self._settings.reconciliation_halt and any(b.kind in (POSITION, CASH) for b in new):
            await halts.set_halt(uow, halts.KILL_SWITCH, "reconciliation found the books and IB apart")
        return open_now


async def _books(uow: UnitOfWork) -> tuple[dict[int, Decimal], Decimal]:
    rows = await uow.connection.execute(
        select(ACCOUNTS.c.kind, ACCOUNTS.c.instrument_id, ACCOUNTS.c.balance).where(
            ACCOUNTS.c.kind.in_([AccountKind.BROKER_POSITION.value, AccountKind.BROKER_CASH.value])
        )
    )
    positions, cash = {}, Decimal(0)
    for kind, con_id, balance in rows:
        if kind == AccountKind.BROKER_POSITION.value:
            if balance:
                positions[con_id] = balance
        else:
            cash += balance
    return positions, cash


def _ours(order_ref: str) -> bool:
    try:
        UUID(order_ref)
    except ValueError:
        return False
    return True


def _alert(item: reconciliation.Break, at: str) -> Message:
    facts = {"kind": item.kind, "key": item.key, "books": str(item.expected), "ib": str(item.actual), "note": item.note}
    return Message("admin.reconciliation_break", f"break/{item.kind}/{item.key}/{at}", facts)
