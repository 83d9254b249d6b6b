"""Units of work and the engine settings they rely on."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core import user_service
from core.db import Database, UnitOfWork, async_url
from core.errors import ConfigurationError, TransientDatabaseError


async def count_users(db: Database) -> int:
    async def work(uow: UnitOfWork) -> int:
        return int((await uow.session.execute(text("SELECT count(*) FROM users"))).scalar_one())

    return await db.transact(work, readonly=True)


async def test_a_unit_of_work_keeps_only_what_it_commits(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await user_service.register(uow, 1)
    assert await count_users(db) == 0
    async with db.unit_of_work() as uow:
        await user_service.register(uow, 1)
        await uow.commit()
    assert await count_users(db) == 1


async def test_an_explicit_rollback_discards_the_work_so_far(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await user_service.register(uow, 1)
        await uow.rollback()
        await user_service.register(uow, 2)
        await uow.commit()
    assert await count_users(db) == 1


async def test_an_error_inside_a_unit_of_work_rolls_it_back(db: Database) -> None:
    with pytest.raises(ZeroDivisionError):
        async with db.unit_of_work() as uow:
            await user_service.register(uow, 1)
            _ = 1 / 0
    assert await count_users(db) == 0


async def test_transact_retries_a_transient_failure_from_the_start(db: Database) -> None:
    attempts = []

    async def flaky(uow: UnitOfWork) -> str:
        attempts.append(1)
        await user_service.register(uow, 10 + len(attempts))
        if len(attempts) < 3:
            raise TransientDatabaseError("simulated serialization failure")
        return "done"

    assert await db.transact(flaky) == "done"
    assert len(attempts) == 3
    assert await count_users(db) == 1  # the two failed attempts left nothing behind


async def test_transact_gives_up_after_its_attempts(db: Database) -> None:
    async def hopeless(uow: UnitOfWork) -> None:
        raise TransientDatabaseError("always busy")

    with pytest.raises(TransientDatabaseError, match="gave up after 5 attempts"):
        await db.transact(hopeless)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(db: Database) -> None:
    async def pragmas(uow: UnitOfWork) -> tuple[object, ...]:
        names = ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        return tuple([(await uow.session.execute(text(f"PRAGMA {name}"))).scalar_one() for name in names])

    assert await db.transact(pragmas, readonly=True) == ("wal", 1, 10_000, 2)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_sqlite_writers_queue_while_readers_go_on(db: Database) -> None:
    """A writer holds the write lock from its first statement (BEGIN IMMEDIATE): a second writer waits for it,
    while a reader is not blocked at all."""
    order = []
    async with db.unit_of_work() as first:
        await user_service.register(first, 1)

        async def second_writer() -> None:
            async with db.unit_of_work() as uow:
                order.append("second began")
                await uow.commit()

        waiting = asyncio.create_task(second_writer())
        await asyncio.sleep(0.3)
        assert order == []  # still waiting for the write lock
        assert await count_users(db) == 0  # a reader sees the last commit, without waiting
        order.append("first commits")
        await first.commit()
    await waiting
    assert order == ["first commits", "second began"]


def test_urls_get_their_async_driver() -> None:
    assert async_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert async_url("sqlite:///./omnibot.db") == "sqlite+aiosqlite:///./omnibot.db"
    with pytest.raises(ConfigurationError, match="unsupported database 'mysql'"):
        async_url("mysql://h/db")


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_unit_of_work_opened_to_read_cannot_write_on_postgresql(db: Database) -> None:
    async def sneaky(uow: UnitOfWork) -> None:
        await user_service.register(uow, 5)

    with pytest.raises(DBAPIError, match="read-only transaction"):
        await db.transact(sneaky, readonly=True)
    for _ in range(25):  # more than the pool holds: connections that served readers write again
        await db.transact(sneaky)
    assert await count_users(db) == 1
