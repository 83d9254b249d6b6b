"""Ledger throughput on SQLite and PostgreSQL, printed as JSON lines (DESIGN.md section 9).

    python -m bench.ledger [--engines sqlite,postgresql] [--entries 2000] [--rounds 3] [--batch 10000] [--concurrency 8]

- entries committed per second, one two-leg entry per transaction, by concurrent writers on disjoint accounts
  (PostgreSQL goal >= 1,500/s), with the commit latency p50 and p99;
- seconds to post 10,000 two-leg entries in one transaction (PostgreSQL goal <= 1.0 s).

Each engine gets a new database (a temporary SQLite file; a PostgreSQL database created and dropped on the
server of OMNIBOT_BENCH_POSTGRES_URL, default the test machine's): 200 funded investors, the 10,000-entry batch,
then some history (--history entries, statistics gathered) before the throughput rounds, and a check that the
books are whole at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core import user_service
from core.clock import SystemClock
from core.db import Database, UnitOfWork
from core.ids import Uuid7Generator
from ledger import operations, service
from ledger.accounts import AccountKind, AccountState, Asset
from ledger.entries import EntryRequest, Leg
from ledger.integrity import check_books
from omnibot import migrations

PG_URL = os.environ.get("OMNIBOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
GOALS = {("postgresql", "entries_per_s"): 1500, ("postgresql", "batch_of_10000_s"): 1.0}
CENT = Decimal("0.01")


def emit(engine: str, metric: str, value: float | None, unit: str, better: str, **extra: Any) -> None:
    line = {
        "bench": "ledger",
        "metric": f"{metric}.{engine}",
        "value": value,
        "unit": unit,
        "goal": GOALS.get((engine, metric)),
        "better": better,
        "engine": engine,
        **extra,
    }
    print(json.dumps(line), flush=True)


@contextlib.asynccontextmanager
async def fresh_database(engine: str, pool: int) -> AsyncIterator[Database]:
    clock = SystemClock()
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            db = Database(
                f"sqlite:///{Path(folder) / 'bench.db'}",
                clock=clock,
                ids=Uuid7Generator(clock),
                pool_size=pool,
                max_overflow=0,
            )
            await migrations.upgrade(db)
            yield db
            await db.dispose()
        return
    name = f"omnibot_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(admin_dsn).set(database=name).render_as_string(hide_password=False)
        db = Database(url, clock=clock, ids=Uuid7Generator(clock), pool_size=pool, max_overflow=0)
        await migrations.upgrade(db)
        yield db
        await db.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def funded_accounts(db: Database, count: int) -> list[AccountState]:
    """`count` investors' cash accounts, each with 1,000,000.00."""

    async def create(uow: UnitOfWork) -> list[AccountState]:
        owners = [(await user_service.register(uow, 10_000 + n)).id for n in range(count)]
        for owner in owners:
            await operations.deposit(uow, owner, Decimal("1000000.00"), key=f"seed-{owner}")
        usd = Asset.cash()
        return await service.open_accounts(uow, [(AccountKind.INVESTOR_CASH, usd, owner) for owner in owners])

    return await db.transact(create)


def transfer(key: str, payer: AccountState, payee: AccountState) -> EntryRequest:
    return EntryRequest(key, "transfer", (Leg.debit(payer.id, CENT), Leg.credit(payee.id, CENT)))


async def entries_per_second(db: Database, engine: str, entries: int, concurrency: int, rounds: int) -> None:
    """Writers on disjoint pairs of accounts; after a warm-up round, the median of `rounds` rounds is reported
    (this machine is shared and noisy), with the slowest and fastest round alongside."""
    accounts = await funded_accounts(db, 2 * concurrency)
    latencies: list[float] = []
    rates = []

    async def writer(round_: int, lane: int) -> None:
        mine = accounts[2 * lane : 2 * lane + 2]
        for n in range(lane, entries, concurrency):
            payer, payee = mine if n % 2 else mine[::-1]
            request = transfer(f"tps-{round_}-{n}", payer, payee)
            began = time.perf_counter()
            await db.transact(lambda uow, r=request: service.post_entry(uow, r))
            latencies.append(time.perf_counter() - began)

    for round_ in range(rounds + 1):
        began = time.perf_counter()
        await asyncio.gather(*(writer(round_, lane) for lane in range(concurrency)))
        if round_ == 0:  # the warm-up round opens the connections and prepares the statements
            latencies.clear()
            continue
        rates.append(entries / (time.perf_counter() - began))
    emit(
        engine,
        "entries_per_s",
        round(statistics.median(rates), 1),
        "entries/s",
        "higher",
        entries=entries,
        rounds=rounds,
        slowest=round(min(rates), 1),
        fastest=round(max(rates), 1),
        concurrency=concurrency,
    )
    cut = statistics.quantiles(latencies, n=100)
    emit(engine, "commit_latency_p50", round(cut[49] * 1000, 2), "ms", "lower", concurrency=concurrency)
    emit(engine, "commit_latency_p99", round(cut[98] * 1000, 2), "ms", "lower", concurrency=concurrency)


def a_batch(accounts: list[AccountState], size: int, prefix: str) -> list[EntryRequest]:
    """`size` transfers between the accounts, spread over all of them."""
    count = len(accounts)
    return [
        transfer(f"{prefix}-{n}", accounts[n % count], accounts[(n % count + 1 + n // count) % count])
        for n in range(size)
    ]


async def one_big_transaction(db: Database, engine: str, accounts: list[AccountState], size: int) -> None:
    requests = a_batch(accounts, size, "batch")
    began = time.perf_counter()
    await db.transact(lambda uow: service.post_entries(uow, requests))
    elapsed = time.perf_counter() - began
    emit(engine, f"batch_of_{size}_s", round(elapsed, 3), "s", "lower", entries=size)


async def give_history(db: Database, accounts: list[AccountState], entries: int) -> None:
    """Book `entries` more, and let the database gather statistics, as a live ledger's autovacuum would: the
    throughput is measured on books with a past, not on empty tables."""
    for start in range(0, entries, 10_000):
        requests = a_batch(accounts, min(10_000, entries - start), f"history-{start}")
        await db.transact(lambda uow, r=requests: service.post_entries(uow, r))
    async with db.engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()


async def check_whole(db: Database) -> None:
    problems = await db.transact(check_books, readonly=True)
    if problems:
        raise SystemExit(f"the books do not balance after the benchmark: {problems[:3]}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--entries", type=int, default=2000, help="entries per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--history", type=int, default=40_000, help="entries booked before the throughput rounds")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        concurrency = args.concurrency if engine == "postgresql" else 1  # SQLite has one writer at a time
        try:
            async with fresh_database(engine, pool=concurrency + 2) as db:
                accounts = await funded_accounts(db, 200)
                await one_big_transaction(db, engine, accounts, args.batch)
                await give_history(db, accounts, args.history)
                await entries_per_second(db, engine, args.entries, concurrency, args.rounds)
                await check_whole(db)
        except (OSError, asyncpg.PostgresError) as exc:
            emit(engine, "unavailable", None, "", "lower", error=f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    asyncio.run(main())
