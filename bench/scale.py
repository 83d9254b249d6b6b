"""What spreading Omnibot over several processes costs, on PostgreSQL, printed as JSON lines (DESIGN.md section 9).

    python -m bench.scale [--rounds 200] [--takeovers 5]

- A wake-up from one process to another (NOTIFY, heard by the other's LISTEN): p50 and p99.
- A request to the broker process and its answer (a row of broker_requests, both wake-ups, the answer read
  back), with a trivial answer: the overhead a bot process pays for a quote over what the leader pays.
- The standby's takeover: the leader's session ends (as when its process is killed) and the standby, polling
  the advisory lock every second, leads: median of several (goal <= 10 s, the issue's).
- A job lease taken and given back (two transactions), and the gate's "update seen once" insert.

It needs PostgreSQL (OMNIBOT_BENCH_POSTGRES_URL, else the CI machine's) and creates and drops a database of its
own.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from bench.ledger import fresh_database
from bench.lines import Lines
from bot.gate import _first_sight
from broker.leadership import Leadership
from broker.remote import RemoteBroker, RequestDesk
from core.db import Database
from core.leases import Lease
from core.wakeups import Wakeups

GOALS = {"takeover_median_s": 10.0}
emit = Lines("scale", GOALS)


async def timed(rounds: int, one: Callable[[], Awaitable[object]]) -> list[float]:
    found = []
    for _ in range(rounds):
        started = time.perf_counter()
        await one()
        found.append((time.perf_counter() - started) * 1000)
    return found


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


async def wake_ups(db: Database, rounds: int) -> None:
    here, there = Wakeups(db.libpq_url()), Wakeups(db.libpq_url())
    heard = asyncio.Event()
    there.on("bench", heard.set)
    await here.start()
    await there.start()
    try:
        found = []
        for _ in range(rounds):
            heard.clear()
            started = time.perf_counter()
            here.wake("bench")
            await heard.wait()
            found.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.005)  # one at a time: a wake-up in flight would collapse the next into it
        emit("wake_up_p50_ms", round(statistics.median(found), 3), "ms", "lower")
        emit("wake_up_p99_ms", round(p99(found), 3), "ms", "lower")
    finally:
        await here.stop()
        await there.stop()


async def broker_requests(db: Database, rounds: int) -> None:
    leader_side, asker_side = Wakeups(db.libpq_url()), Wakeups(db.libpq_url())
    await leader_side.start()
    await asker_side.start()

    async def answer(_kind: str, argument: str) -> dict[str, Any]:
        return {"con_id": int(argument)}

    desk = RequestDesk(db, leader_side, answer)
    desk.start()
    asker = RemoteBroker(db, asker_side)
    try:
        found = await timed(rounds, lambda: asker.ask("quote", "265598"))
        emit("remote_request_p50_ms", round(statistics.median(found), 3), "ms", "lower")
        emit("remote_request_p99_ms", round(p99(found), 3), "ms", "lower")
        started = time.perf_counter()
        await asyncio.gather(*(asker.ask("quote", str(n)) for n in range(100)))
        emit("remote_requests_100_at_once_s", round(time.perf_counter() - started, 3), "s", "lower")
    finally:
        await desk.stop()
        await leader_side.stop()
        await asker_side.stop()


async def takeovers(db: Database, times: int) -> None:
    found = []
    for _ in range(times):
        leader, standby = Leadership(db), Leadership(db)
        await leader.campaign()
        campaigning = asyncio.create_task(standby.campaign())
        await asyncio.sleep(1 + random.random())  # the standby's polls and the death fall at any phase
        assert leader._lock is not None
        backend = leader._lock.get_server_pid()
        admin = await asyncpg.connect(db.libpq_url())
        try:
            started = time.perf_counter()
            await admin.execute("SELECT pg_terminate_backend($1)", backend)  # the leader's process is gone
            await campaigning
            found.append(time.perf_counter() - started)
        finally:
            await admin.close()
            await leader.resign()
            await standby.resign()
    emit("takeover_median_s", round(statistics.median(found), 3), "s", "lower", runs=times)
    emit("takeover_max_s", round(max(found), 3), "s", "lower")


async def small_costs(db: Database, rounds: int) -> None:
    lease = Lease(db, "bench")

    async def nothing() -> None:
        return None

    found = await timed(rounds, lambda: lease.run(nothing))
    emit("lease_round_p50_ms", round(statistics.median(found), 3), "ms", "lower")
    ids = iter(range(1, rounds + 1))
    found = await timed(rounds, lambda: db.transact(lambda uow: _first_sight(uow, next(ids))))
    emit("update_seen_once_p50_ms", round(statistics.median(found), 3), "ms", "lower")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--takeovers", type=int, default=5)
    args = parser.parse_args()
    async with fresh_database("postgresql", pool=20) as db:
        await wake_ups(db, args.rounds)
        await broker_requests(db, args.rounds)
        await small_costs(db, args.rounds)
        await takeovers(db, args.takeovers)


if __name__ == "__main__":
    asyncio.run(main())
