"""Leases of the periodic jobs several worker processes share (the payment desk, the risk watch, the daily
summaries). A job runs in one process at a time: a worker claims the job's row with FOR UPDATE SKIP LOCKED, writes
how long it holds it, and renews that while the job runs. A worker that dies lets its lease lapse, and the next
round of another worker runs the job. A job with a period (`every`) is due again only that long after its last
run ended, whichever worker ran it, so three workers do not run a five-minute job three times in five minutes.

On SQLite (one process) the lease is taken all the same; it costs two small transactions a round."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import Table, or_, select, update

from core.db import Database, UnitOfWork, insert_ignoring_conflicts
from core.models import JobLease

LEASES: Table = JobLease.__table__  # type: ignore[assignment]


def this_process() -> str:
    """Who holds a lease or leads: the host and the process id, for the operator reading the table."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


class Lease:
    def __init__(
        self, db: Database, name: str, *, every: float = 0.0, hold: float = 120.0, holder: str | None = None
    ) -> None:
        self._db, self._name, self._holder = db, name, holder or this_process()
        self._every, self._hold = timedelta(seconds=every), timedelta(seconds=hold)

    async def run(self, work: Callable[[], Awaitable[object]]) -> bool:
        """Run `work` if the job is due and no other process holds it; whether it ran."""
        if not await self._db.transact(self._claim):
            return False
        renewing = asyncio.create_task(self._renew())
        try:
            await work()
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self._db.transact(self._release)
        return True

    async def _claim(self, uow: UnitOfWork) -> bool:
        now = uow.clock.now()
        fresh = {"name": self._name, "due_at": now, "held_by": None, "held_until": None}
        await uow.connection.execute(insert_ignoring_conflicts(uow, LEASES).values(**fresh))
        free = or_(LEASES.c.held_until.is_(None), LEASES.c.held_until < now)
        query = (
            select(LEASES.c.name)
            .where(LEASES.c.name == self._name, LEASES.c.due_at <= now, free)
            .with_for_update(skip_locked=True)
        )
        if (await uow.connection.execute(query)).first() is None:
            return False  # not due, or another process has it
        held = {"held_by": self._holder, "held_until": now + self._hold}
        await uow.connection.execute(update(LEASES).where(LEASES.c.name == self._name).values(**held))
        return True

    async def _renew(self) -> None:
        async def renew(uow: UnitOfWork) -> None:
            mine = (LEASES.c.name == self._name) & (LEASES.c.held_by == self._holder)
            until = uow.clock.now() + self._hold
            await uow.connection.execute(update(LEASES).where(mine).values(held_until=until))

        while True:
            await asyncio.sleep(self._hold.total_seconds() / 3)
            await self._db.transact(renew)

    async def _release(self, uow: UnitOfWork) -> None:
        mine = (LEASES.c.name == self._name) & (LEASES.c.held_by == self._holder)
        values = {"held_by": None, "held_until": None, "due_at": uow.clock.now() + self._every}
        await uow.connection.execute(update(LEASES).where(mine).values(**values))
