"""The migrations build exactly the schema the models describe, on a fresh database of each engine."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from core.clock import ManualClock
from core.db import Database
from omnibot import migrations
from tests.conftest import ENGINES, START, PostgresServer, make_database, pg_dsn, unavailable


@pytest.fixture(params=ENGINES)
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresServer) -> AsyncIterator[Database]:
    """A database with nothing in it, not even the schema."""
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        if postgres.error:
            unavailable(postgres.error)
        name = await postgres.create(f"{postgres.prefix}_empty_{uuid.uuid4().hex[:6]}")
        url = pg_dsn(name)
    db = make_database(url, ManualClock(START))
    yield db
    await db.dispose()
    if name:
        await postgres.drop(name)


async def test_migrating_a_fresh_database_gives_the_models_schema(empty_db: Database) -> None:
    assert await migrations.current_revision(empty_db) is None
    await migrations.upgrade(empty_db)
    assert await migrations.current_revision(empty_db) == "0013"
    assert await migrations.schema_differences(empty_db) == []


async def test_the_comparison_notices_a_schema_that_drifted(empty_db: Database) -> None:
    await migrations.upgrade(empty_db)
    async with empty_db.engine.begin() as connection:
        await connection.execute(text("DROP INDEX ix_accounts_owner_id"))
    differences = await migrations.schema_differences(empty_db)
    assert [difference[0] for difference in differences] == ["add_index"]


async def test_upgrading_an_up_to_date_database_changes_nothing(db: Database) -> None:
    await migrations.upgrade(db)
    assert await migrations.current_revision(db) == "0013"
    assert await migrations.schema_differences(db) == []
