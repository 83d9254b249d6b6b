"""Running the Alembic migrations from code (`omnibot migrate`, tests, benchmarks) over our own engine, so that
SQLite gets its pragmas and BEGIN IMMEDIATE like every other writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from alembic import command
from core.db import Database
from omnibot.schema import metadata

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


def alembic_config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def schema_differences(db: Database) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty when they agree)."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )
