"""Asking the broker process from a process without the IB connection, through PostgreSQL: a request is a row
of `broker_requests`; the asker wakes the broker (NOTIFY broker.ask) and waits for its answer (NOTIFY
broker.answer, or a look at the row every half second, should a wake-up be lost). The broker answers what is
asked with its own parts (broker/link.py, LocalBroker.answer).

Asked and answered: qualify (a symbol), quote (a conId), send (a block born routed), cancel (a block whose
orders asked to leave), reconcile. Nothing else: orders themselves go by the database (the order row, the
block), never by request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, delete, insert, select, update

from core.db import Database, UnitOfWork
from core.errors import BrokerRequestFailed, BrokerUnavailable, OmnibotError
from core.leases import this_process
from core.rounds import Rounds
from core.wakeups import Wakeups

from .models import BrokerRequest

log = logging.getLogger("omnibot.broker")
REQUESTS: Table = BrokerRequest.__table__  # type: ignore[assignment]
LOOK_EVERY = 0.5  # seconds between an asker's looks at its row, when no wake-up comes
STALE = timedelta(minutes=1)  # a question older than this is not answered any more (its asker gave up)
KEPT = timedelta(minutes=10)  # requests are deleted after this, answered or not (their askers gave up long ago)
TIMELY = frozenset({"qualify", "quote"})  # questions whose answer is worthless once the asker gave up
Answer = Callable[[str, str], Awaitable[dict[str, Any]]]


class RemoteBroker:
    """The asking side."""

    def __init__(self, db: Database, wakeups: Wakeups, *, timeout: float = 15.0) -> None:
        self._db, self._wakeups, self._timeout = db, wakeups, timeout
        self._waiting: set[asyncio.Event] = set()
        wakeups.on("broker.answer", self._on_answer)

    async def ask(self, kind: str, argument: str) -> dict[str, Any]:
        """The broker's answer; BrokerUnavailable when no broker process answers in time."""
        request_id = await self._db.transact(lambda uow: _insert(uow, kind, argument))
        self._wakeups.wake("broker.ask")
        answered = asyncio.Event()
        self._waiting.add(answered)
        deadline = time.monotonic() + self._timeout
        try:
            while True:  # wait for a wake-up (or the next look), then read the row
                left = deadline - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), timeout=max(0.0, min(LOOK_EVERY, left)))
                answered.clear()
                row = await self._db.transact(lambda uow: _row(uow, request_id), readonly=True)
                if row.answered_at is not None:
                    if row.error:
                        raise BrokerRequestFailed(0, row.error)
                    return dict(row.answer or {})
                if time.monotonic() >= deadline:
                    raise BrokerUnavailable(f"the broker process did not answer ({kind}) within {self._timeout:g} s")
        finally:
            self._waiting.discard(answered)

    async def tell(self, kind: str, argument: str) -> None:
        """Ask without waiting: the broker acts on it when it can (a block to send, a cancel)."""
        await self._db.transact(lambda uow: _insert(uow, kind, argument))
        self._wakeups.wake("broker.ask")

    def _on_answer(self) -> None:
        for answered in self._waiting:
            answered.set()


class RequestDesk:
    """The answering side, in the process that leads."""

    def __init__(self, db: Database, wakeups: Wakeups, answer: Answer) -> None:
        self._db, self._wakeups, self._answer = db, wakeups, answer
        self._rounds = Rounds("broker requests", self.answer_due, every=1.0)
        self._holder = this_process()
        self._answering: set[asyncio.Task[None]] = set()
        self._stop_listening: Callable[[], None] | None = None

    def start(self) -> None:
        self._stop_listening = self._wakeups.on("broker.ask", self._rounds.wake)
        self._rounds.start()

    async def stop(self) -> None:
        """Stop answering; answers under way are abandoned (their askers time out, or ask the next leader)."""
        if self._stop_listening is not None:
            self._stop_listening()
        await self._rounds.stop()
        for task in list(self._answering):
            task.cancel()
        await asyncio.gather(*self._answering, return_exceptions=True)

    async def answer_due(self) -> int:
        """Take up every request waiting and nobody took (FOR UPDATE SKIP LOCKED: a deposed leader that has
        not noticed yet takes none of the same), each answered in its own task so that a slow quote does not
        hold up the others; how many were taken up."""
        rows = await self._db.transact(lambda uow: _take(uow, self._holder))
        for row in rows:
            task = asyncio.create_task(self._one(row), name=f"broker request {row.id}")
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
        return len(rows)

    async def _one(self, row: Any) -> None:
        answer: dict[str, Any] | None = None
        try:
            if row.kind in TIMELY and self._db.clock.now() - row.created_at > STALE:
                error = "the question was not answered in time"
            else:
                answer, error = await self._answer(row.kind, row.argument), ""
        except OmnibotError as exc:
            error = str(exc)[:300]
        except Exception as exc:  # the asker hears of it; the desk goes on
            log.exception("broker request %s (%s %s) failed", row.id, row.kind, row.argument)
            error = f"the broker could not answer: {type(exc).__name__}"
        await self._db.transact(lambda uow: _answered(uow, row.id, answer, error))
        self._wakeups.wake("broker.answer")


async def _insert(uow: UnitOfWork, kind: str, argument: str) -> int:
    values = {"kind": kind, "argument": argument, "created_at": uow.clock.now(), "error": ""}
    done = await uow.connection.execute(insert(REQUESTS).values(**values).returning(REQUESTS.c.id))
    return int(done.scalar_one())


async def _row(uow: UnitOfWork, request_id: int) -> Any:
    return (await uow.connection.execute(select(REQUESTS).where(REQUESTS.c.id == request_id))).one()


async def _take(uow: UnitOfWork, holder: str) -> list[Any]:
    """The requests nobody took yet, now ours. One a dead leader took and never answered stays so: its asker
    timed out, and what it asked (a block to send, a cancel) is done by the next leader's resume anyway."""
    waiting = REQUESTS.c.answered_at.is_(None) & REQUESTS.c.taken_by.is_(None)
    query = select(REQUESTS).where(waiting).order_by(REQUESTS.c.id).limit(200).with_for_update(skip_locked=True)
    rows = list(await uow.connection.execute(query))
    if rows:
        taken = update(REQUESTS).where(REQUESTS.c.id.in_([row.id for row in rows])).values(taken_by=holder)
        await uow.connection.execute(taken)
    return rows


async def _answered(uow: UnitOfWork, request_id: int, answer: dict[str, Any] | None, error: str) -> None:
    now = uow.clock.now()
    values = {"answered_at": now, "answer": answer, "error": error}
    await uow.connection.execute(update(REQUESTS).where(REQUESTS.c.id == request_id).values(**values))
    await uow.connection.execute(delete(REQUESTS).where(REQUESTS.c.created_at < now - KEPT))  # asked long ago
