"""The parts the processes share work through, on each engine: job leases, requests to the broker process and
its answers, the broker election, and wake-ups across processes (LISTEN/NOTIFY; two connections stand for two
processes)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from alerts.leader_watch import LeaderWatch
from broker.events import ConnectionState
from broker.leadership import Leadership, _elect, still_leads
from broker.link import BrokerLink
from broker.remote import RemoteBroker, RequestDesk
from core.clock import ManualClock
from core.db import Database
from core.errors import BrokerRequestFailed, BrokerUnavailable
from core.leases import LEASES, Lease
from core.outbox import messages
from core.wakeups import Wakeups
from tests.conftest import make_database


async def test_a_job_runs_in_one_process_at_a_time_and_when_due(db: Database, clock: ManualClock) -> None:
    first = Lease(db, "risk watch", every=300, holder="host-a:1")
    second = Lease(db, "risk watch", every=300, holder="host-b:2")
    inside, release, ran = asyncio.Event(), asyncio.Event(), []

    async def slow() -> None:
        inside.set()
        await release.wait()
        ran.append("a")

    running = asyncio.create_task(first.run(slow))
    await inside.wait()
    assert not await second.run(lambda: _note(ran, "b"))  # held by the first
    release.set()
    assert await running
    assert not await second.run(lambda: _note(ran, "b"))  # not due: it ran a moment ago
    clock.advance(timedelta(seconds=301))
    assert await second.run(lambda: _note(ran, "b"))
    assert ran == ["a", "b"]


async def test_a_lease_its_holder_never_gave_back_lapses(db: Database, clock: ManualClock) -> None:
    dead = Lease(db, "payment desk", hold=120, holder="host-a:1")
    assert await db.transact(dead._claim)  # claimed, then the process died
    other = Lease(db, "payment desk", holder="host-b:2")
    ran: list[str] = []
    assert not await other.run(lambda: _note(ran, "b"))
    clock.advance(timedelta(seconds=121))
    assert await other.run(lambda: _note(ran, "b")) and ran == ["b"]


async def _note(ran: list[str], who: str) -> None:
    ran.append(who)


async def test_a_request_is_answered_by_the_broker_process_or_refused_in_time(db: Database) -> None:
    wakeups = Wakeups(db.libpq_url())
    await wakeups.start()
    asker = RemoteBroker(db, wakeups, timeout=0.5)
    try:
        with pytest.raises(BrokerUnavailable, match="did not answer"):
            await asker.ask("quote", "265598")  # no broker process

        async def answer(kind: str, argument: str) -> dict[str, Any]:
            if kind == "quote":
                return {"asked": argument}
            raise BrokerRequestFailed(200, "No security definition has been found")

        desk = RequestDesk(db, wakeups, answer)
        desk.start()
        try:
            asker = RemoteBroker(db, wakeups, timeout=5)
            assert await asker.ask("quote", "265598") == {"asked": "265598"}
            with pytest.raises(BrokerRequestFailed, match="No security definition"):
                await asker.ask("qualify", "NOPE")
        finally:
            await desk.stop()
    finally:
        await wakeups.stop()


async def test_without_a_broker_process_the_link_says_so(db: Database) -> None:
    link = BrokerLink(db, Wakeups(None))
    status = await link.status()
    assert status.state is ConnectionState.DISCONNECTED and status.last_error == "no broker process is running"


async def test_one_of_two_campaigners_leads_and_the_other_takes_over_when_it_resigns(
    new_url: Any, clock: ManualClock
) -> None:
    async with new_url("postgresql") as url:
        db = make_database(url, clock)
        first, second = Leadership(db, poll=0.1, heartbeat=0.2), Leadership(db, poll=0.1, heartbeat=0.2)
        try:
            assert await first.campaign() == 1
            standing_by = asyncio.create_task(second.campaign())
            await asyncio.sleep(0.5)
            assert not standing_by.done()  # the lock is taken
            await first.resign()
            assert await asyncio.wait_for(standing_by, 5) == 2
            assert not await db.transact(lambda uow: still_leads(uow, 1))  # the old term is over
            assert await db.transact(lambda uow: still_leads(uow, 2))
        finally:
            for leadership in (first, second):
                await leadership.resign()
            await db.dispose()


async def test_a_leader_that_loses_its_lock_connection_steps_down(new_url: Any, clock: ManualClock) -> None:
    async with new_url("postgresql") as url:
        db = make_database(url, clock)
        leadership = Leadership(db, poll=0.1, heartbeat=0.2)
        try:
            await leadership.campaign()
            assert leadership._lock is not None
            await leadership._lock.close()  # as when the database restarts or the network drops it
            await asyncio.wait_for(leadership.lost.wait(), 5)
        finally:
            await leadership.resign()
            await db.dispose()


async def test_a_wake_up_reaches_the_other_process_once(new_url: Any, clock: ManualClock) -> None:
    async with new_url("postgresql") as url:
        db = make_database(url, clock)
        here, there = Wakeups(db.libpq_url()), Wakeups(db.libpq_url())
        heard_here, heard_there = asyncio.Event(), asyncio.Event()
        counts = {"here": 0, "there": 0}

        def hear(side: str, event: asyncio.Event) -> None:
            counts[side] += 1
            event.set()

        here.on("router", lambda: hear("here", heard_here))
        there.on("router", lambda: hear("there", heard_there))
        await here.start()
        await there.start()
        try:
            here.wake("router")
            await asyncio.wait_for(heard_there.wait(), 5)
            await asyncio.sleep(0.3)  # our own notification comes back to us too: it must not count again
            assert counts == {"here": 1, "there": 1}
        finally:
            for wakeups in (here, there):
                with contextlib.suppress(Exception):
                    await wakeups.stop()
            await db.dispose()


async def test_the_admins_hear_once_that_no_broker_process_is_alive_and_once_that_one_is_back(
    db: Database, clock: ManualClock
) -> None:
    workers = [LeaderWatch(db, down_seconds=60), LeaderWatch(db, down_seconds=60)]
    assert await workers[0].look() is None  # never elected: nothing to miss
    await db.transact(lambda uow: _elect(uow, "host-a:1"))
    assert await workers[0].look() is None
    clock.advance(timedelta(seconds=61))
    for worker in workers * 2:
        assert await worker.look() == "admin.broker_down"
    await db.transact(lambda uow: _elect(uow, "host-b:2"))  # a standby leads
    for worker in workers * 2:
        assert await worker.look() == "admin.broker_up"
    told = await db.transact(lambda uow: messages(uow), readonly=True)
    assert [m.topic for m in told] == ["admin.broker_down", "admin.broker_up"]
    assert "host-a:1" in told[0].payload["detail"] and told[1].payload["detail"] == "host-b:2 leads"


async def test_a_run_that_lost_its_lease_is_stopped(db: Database) -> None:
    lease = Lease(db, "payment desk", hold=0.3, holder="host-a:1")
    started, stopped = asyncio.Event(), asyncio.Event()

    async def long_job() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()

    running = asyncio.create_task(lease.run(long_job))
    await started.wait()
    taken = update(LEASES).where(LEASES.c.name == "payment desk").values(held_by="host-b:2")
    await db.transact(lambda uow: uow.connection.execute(taken))  # as if our renewals had failed for its hold
    assert await asyncio.wait_for(running, 5)
    assert stopped.is_set()
