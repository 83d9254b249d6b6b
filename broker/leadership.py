"""Which process holds the one IB connection: the one that holds a PostgreSQL advisory lock. Every broker
process campaigns; one wins, the others stand by and try again every second, so when the leader dies (its
session ends and PostgreSQL frees the lock) a standby takes over within a couple of seconds.

The lock lives on a connection of its own, outside the pool. The leader checks it every `heartbeat` seconds;
if the connection is gone, so is the lock, and the leader steps down at once (`lost`). Each election also
raises the epoch in `broker_leader`: the router claims blocks only while the epoch is its own, so a deposed
leader that has not noticed yet cannot route. IB fences too: the leader's client id is taken while it is
connected, so a successor connects only once the old connection is closed.

On SQLite the one process leads at once: SQLite is the one-process setup."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy import Table, insert, select, update

from core.db import Database, UnitOfWork
from core.leases import this_process

from .models import BrokerLeader

log = logging.getLogger("omnibot.broker")
LEADER: Table = BrokerLeader.__table__  # type: ignore[assignment]
LOCK_KEY = 0x6F6D6E69_62726B72  # "omnibrkr": the advisory lock of the broker role
# The lock's session must end soon after its host dies or drops off the network (not after the kernel's two-hour
# keepalive): PostgreSQL probes the idle connection after 5 s, every 2 s, 3 times, and gives up on unacknowledged
# data after 10 s. The standby takes over within about 11 s of a silent death, within a second of a crash.
KEEPALIVE = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "10000",
}


class Leadership:
    def __init__(self, db: Database, *, poll: float = 1.0, heartbeat: float = 2.0) -> None:
        self._db, self._poll, self._heartbeat = db, poll, heartbeat
        self._lock: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.epoch: int | None = None
        self.lost = asyncio.Event()
        self.report: Callable[[], Awaitable[dict[str, Any]]] = _nothing  # the connection's state, at every heartbeat

    async def campaign(self) -> int:
        """Wait until this process leads; the epoch of its term."""
        url = self._db.libpq_url()
        while url is not None and self._lock is None:
            try:
                connection = await asyncpg.connect(url, timeout=10, server_settings=KEEPALIVE)
                try:
                    while True:  # standing by: the leader's death frees the lock
                        if await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY, timeout=10):
                            break
                        await asyncio.sleep(self._poll)
                except BaseException:
                    await connection.close(timeout=2)
                    raise
                self._lock = connection
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("broker election: cannot reach the database (%s); trying again", exc)
                await asyncio.sleep(self._poll)
        holder = this_process()
        self.epoch = await self._db.transact(lambda uow: _elect(uow, holder))
        self.lost = asyncio.Event()
        self._task = asyncio.create_task(self._keep(), name="broker leadership")
        log.info("this process (%s) now holds the IB connection: epoch %d", holder, self.epoch)
        return self.epoch

    async def resign(self) -> None:
        """Stop leading: the lock is freed for a standby (closing its connection frees it)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._lock is not None:
            with contextlib.suppress(Exception):
                await self._lock.close(timeout=2)
            self._lock = None
        self.epoch = None

    async def _keep(self) -> None:
        """Check the lock and write the heartbeat; on losing either, say so (`lost`) and stop."""
        assert self.epoch is not None
        epoch = self.epoch
        while True:
            await asyncio.sleep(self._heartbeat)
            if self._lock is not None:
                try:
                    await self._lock.fetchval("SELECT 1", timeout=self._heartbeat)
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.error("broker election: the lock's connection is gone (%s); stepping down", exc)
                    self.lost.set()
                    return
            try:
                status = await self.report()
                if not await self._db.transact(functools.partial(_beat, epoch=epoch, status=status)):
                    log.error("broker election: another process was elected; stepping down")
                    self.lost.set()
                    return
            except Exception:  # a missed heartbeat is not a lost lock: the lock's connection says that
                log.exception("broker election: the heartbeat was not written")


async def _nothing() -> dict[str, Any]:
    return {}


async def _elect(uow: UnitOfWork, holder: str) -> int:
    now = uow.clock.now()
    row = (await uow.connection.execute(select(LEADER.c.epoch).where(LEADER.c.id == 1).with_for_update())).first()
    epoch = 1 if row is None else row.epoch + 1
    values: dict[str, Any] = {"epoch": epoch, "holder": holder, "elected_at": now, "heartbeat_at": now, "status": {}}
    if row is None:
        await uow.connection.execute(insert(LEADER).values(id=1, **values))
    else:
        await uow.connection.execute(update(LEADER).where(LEADER.c.id == 1).values(**values))
    return epoch


async def _beat(uow: UnitOfWork, epoch: int, status: dict[str, Any]) -> bool:
    query = update(LEADER).where(LEADER.c.id == 1, LEADER.c.epoch == epoch)
    done = await uow.connection.execute(query.values(heartbeat_at=uow.clock.now(), status=status))
    return bool(done.rowcount)


async def still_leads(uow: UnitOfWork, epoch: int) -> bool:
    """Whether `epoch` is still the broker's term; the row stays shared-locked to the end of the transaction,
    so no election commits in between."""
    query = select(LEADER.c.epoch).where(LEADER.c.id == 1).with_for_update(read=True)
    row = (await uow.connection.execute(query)).first()
    return row is not None and row.epoch == epoch


async def leader(uow: UnitOfWork) -> Any:
    """The broker_leader row (holder, heartbeat, the connection's state), or None before any election."""
    return (await uow.connection.execute(select(LEADER).where(LEADER.c.id == 1))).first()
