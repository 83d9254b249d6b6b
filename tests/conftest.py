"""Fixtures shared by every layer: a simulated clock, seeded ids, and fresh migrated databases on SQLite and
PostgreSQL.

Each engine is migrated once per run into a template (a file for SQLite, a template database for PostgreSQL);
every test gets its own copy, dropped afterwards. When PostgreSQL cannot be reached, its tests fail under CI
(CI=true) and are skipped elsewhere, saying why.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from core.clock import ManualClock
from core.crypto import BlindIndex, FieldCipher, Keyring, generate_key
from core.db import Database
from core.ids import Uuid7Generator
from omnibot import migrations

ENGINES = ["sqlite", "postgresql"]
PG_URL = os.environ.get("OMNIBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def pg_dsn(database: str) -> str:
    return make_url(PG_URL).set(drivername="postgresql", database=database).render_as_string(hide_password=False)


class PostgresServer:
    """Creates and drops the databases of this test run on the test machine's PostgreSQL."""

    def __init__(self) -> None:
        self.prefix = f"omnibot_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template: str | None = None
        self.error: str | None = None

    async def admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(pg_dsn(make_url(PG_URL).database or "postgres"))

    async def create(self, name: str, template: str | None = None) -> str:
        connection = await self.admin()
        try:
            await connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        finally:
            await connection.close()
        return name

    async def drop(self, name: str) -> None:
        connection = await self.admin()
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


def unavailable(reason: str) -> None:
    message = f"PostgreSQL tests cannot run: {reason}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def make_database(url: str, clock: ManualClock, seed: int = 7, **options: int) -> Database:
    return Database(url, clock=clock, ids=Uuid7Generator(clock, random.Random(seed)), **options)


@pytest.fixture(scope="session")
async def postgres() -> AsyncIterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.template = await server.create(f"{server.prefix}_template")
        template_db = make_database(pg_dsn(server.template), ManualClock(START))
        await migrations.upgrade(template_db)
        await template_db.dispose()
    except (OSError, asyncpg.PostgresError) as exc:
        server.error = f"{type(exc).__name__}: {exc} (at {make_url(PG_URL).render_as_string()})"
    yield server
    if server.template:
        await server.drop(server.template)


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db = make_database(f"sqlite:///{path}", ManualClock(START))
    await migrations.upgrade(db)
    await db.dispose()
    return path


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@contextlib.asynccontextmanager
async def fresh_url(engine: str, tmp_path: Path, sqlite_template: Path, postgres: PostgresServer) -> AsyncIterator[str]:
    """The URL of a new migrated database of this engine, dropped on leaving."""
    if engine == "sqlite":
        path = tmp_path / f"omnibot-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    if postgres.error or postgres.template is None:
        unavailable(postgres.error or "no template database")
    name = await postgres.create(f"{postgres.prefix}_{uuid.uuid4().hex[:8]}", template=postgres.template)
    try:
        yield pg_dsn(name)
    finally:
        await postgres.drop(name)


@pytest.fixture
def new_url(tmp_path: Path, sqlite_template: Path, postgres: PostgresServer) -> Callable[[str], Any]:
    """`async with new_url("postgresql") as url:` a fresh migrated database for tests that need several."""
    return lambda engine: fresh_url(engine, tmp_path, sqlite_template, postgres)


@pytest.fixture(params=ENGINES)
async def db(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres: PostgresServer,
    clock: ManualClock,
) -> AsyncIterator[Database]:
    """A fresh migrated database, once on SQLite and once on PostgreSQL."""
    async with fresh_url(request.param, tmp_path, sqlite_template, postgres) as url:
        database = make_database(url, clock, pool_size=20, max_overflow=20)
        try:
            yield database
        finally:
            await database.dispose()


@pytest.fixture
def cipher() -> FieldCipher:
    keyring = Keyring.parse(f"k2:{generate_key()},k1:{generate_key()}")
    return FieldCipher(keyring, BlindIndex(os.urandom(32)))
