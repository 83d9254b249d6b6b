"""Leases of the periodic jobs several worker processes share (the payment desk, the risk watch, the daily
summaries). A job runs in one process at a time: a worker claims the job's row with FOR UPDATE SKIP LOCKED, writes
how long it holds it, and renews that while the job runs. A worker that dies lets its lease lapse, and the next
round of another worker runs the job. A job with a period (`every`) is due again only that long after its last
run ended, whichever worker ran it, so three workers do not run a five-minute job three times in five minutes.

Lease times come from each host's clock: keep the hosts in time (NTP), well within `hold`. On SQLite (one
process) the lease is taken all the same; it costs two small transactions a round."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import Table, or_, select, update

from core.db import Database, UnitOfWork, insert_ignoring_conflicts
from core.models import JobLease

log = logging.getLogger("omnibot")
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
        """Run `work` if the job is due and no other process holds it; whether it ran. Should the lease be lost
        meanwhile (another process took it after our renewals failed to reach the database for its whole
        `hold`), the work is cancelled: better a job half done, and done again, than done twice at once."""
        if not await self._db.transact(self._claim):
            return False
        working = asyncio.ensure_future(work())
        renewing = asyncio.create_task(self._renew(working))
        try:
            await working
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being stopped
            # the lease was lost and the work stopped (logged by _renew): the next round sees who holds it
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            if not working.cancelled():
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

    async def _renew(self, working: asyncio.Future[object]) -> None:
        async def renew(uow: UnitOfWork) -> bool:
            mine = (LEASES.c.name == self._name) & (LEASES.c.held_by == self._holder)
            until = uow.clock.now() + self._hold
            return bool((await uow.connection.execute(update(LEASES).where(mine).values(held_until=until))).rowcount)

        while True:
            await asyncio.sleep(self._hold.total_seconds() / 3)
            try:
                still_mine = await self._db.transact(renew)
            except Exception:  # the database away for a moment: the next renewal tries again, in time
                log.warning("job %s: the lease was not renewed; trying again", self._name, exc_info=True)
                continue
            if not still_mine:
                log.error("job %s: another process holds the lease now; stopping this run", self._name)
                working.cancel()
                return

    async def _release(self, uow: UnitOfWork) -> None:
        mine = (LEASES.c.name == self._name) & (LEASES.c.held_by == self._holder)
        values = {"held_by": None, "held_until": None, "due_at": uow.clock.now() + self._every}
        await uow.connection.execute(update(LEASES).where(mine).values(**values))
