"""Alembic environment: runs on the connection `omnibot migrate` hands over, or, from the `alembic` command
line, on the database of OMNIBOT_DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from core.clock import SystemClock
from core.config import Settings
from core.db import Database
from core.ids import Uuid7Generator
from omnibot.schema import metadata

config = context.config


def run_on(connection: object) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    clock = SystemClock()
    db = Database.from_settings(Settings(), clock=clock, ids=Uuid7Generator(clock))
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await db.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: the triggers differ per database")
if config.attributes.get("connection") is not None:
    run_on(config.attributes["connection"])
else:
    asyncio.run(run_from_settings())
