"""Our process as the simulation kills it: the database as one process sees it, which can die at a chosen
commit. Every service of the process writes through it, so "a crash between any two commits" is a countdown.

Dying `after` a commit: that commit holds, and nothing the process tries afterwards does (its next unit of work
raises `Crashed`, so whatever it meant to do next, a send to IB included, never happens). Dying `before` a
commit: the transaction's work ran and is rolled back, as a process killed inside it leaves it. The harness
notices, throws the process away (its IB connection drops) and starts a new one on the same database.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from sqlalchemy import event

from core.db import Database, UnitOfWork

T = TypeVar("T")
WROTE = "omnibot.sim.wrote"  # set on the connection by the statements that write
WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
When = Literal["before", "after"]


class Crashed(BaseException):
    """The process died. A BaseException, as a real death is: no `except Exception` of ours may survive it."""


class Mortal:
    """A process's view of the database: the real one, until the armed commit."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.dead = False
        self._countdown: int | None = None
        self._when: When = "after"
        self.died_at = ""  # what it was doing: the trace names it
        engine = db.engine.sync_engine
        if not event.contains(engine, "before_cursor_execute", _note_writes):
            event.listen(engine, "before_cursor_execute", _note_writes)

    def __getattr__(self, name: str) -> Any:  # the engine, the clock, the ids: the real database's
        return getattr(self._db, name)

    def die_at(self, commit: int, when: When) -> None:
        """Die at the `commit`-th write from now (1: the next), just before or just after it commits."""
        self._countdown, self._when = commit, when

    def unit_of_work(self, *, readonly: bool = False) -> Any:
        self._alive()
        return self._db.unit_of_work(readonly=readonly)

    async def transact(self, work: Callable[[UnitOfWork], Awaitable[T]], *, readonly: bool = False) -> T:
        self._alive()
        if readonly or self._countdown is None:
            return await self._db.transact(work, readonly=readonly)
        dies = False

        async def counted(uow: UnitOfWork) -> T:
            nonlocal dies
            info = uow.connection.sync_connection.info if uow.connection.sync_connection else {}
            info[WROTE] = False
            result = await work(uow)
            if uow._session is not None:  # what the ORM would write at the commit, written now, to be seen
                await uow._session.flush()
            if info[WROTE] and self._countdown is not None:  # only a write is a commit (a poll finding nothing
                self._countdown -= 1  # due is not, and how often the harness polls depends on the wall clock)
                if self._countdown == 0:
                    self._countdown, dies = None, True
                    self._dying(work)  # dead before its commit shows: never seen by the harness alive
                    if self._when == "before":
                        raise Crashed(self.died_at)  # inside the transaction: it rolls back
            return result

        result = await self._db.transact(counted)
        if dies:
            raise Crashed(self.died_at)
        return result

    def _dying(self, work: object) -> None:
        self.dead = True
        named = getattr(work, "func", work)  # a functools.partial names its function
        self.died_at = f"{self._when} committing {getattr(named, '__qualname__', type(named).__name__)}"

    def _alive(self) -> None:
        if self.dead:
            raise Crashed("the process is gone")


def _note_writes(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if WRITES.match(statement):
        connection.info[WROTE] = True
