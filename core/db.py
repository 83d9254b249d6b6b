"""Database access: the async engine, units of work, and retries of transient failures.

SQLite (aiosqlite): WAL, foreign keys and a busy timeout on every connection. Writers open their transaction
with BEGIN IMMEDIATE, taking the write lock up front, so two writers queue instead of failing on a lock upgrade;
readers use a plain BEGIN and never block a writer.
PostgreSQL (asyncpg): READ COMMITTED, with rows locked explicitly (SELECT ... FOR UPDATE, in a fixed order) by
the services that need it. Serialization failures, deadlocks and a busy SQLite are retried by `transact`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)

from core.clock import Clock
from core.config import Settings
from core.errors import ConfigurationError, TransientDatabaseError
from core.ids import IdGenerator

T = TypeVar("T")
Dialect = Literal["sqlite", "postgresql"]

_READONLY = "omnibot_readonly"
_PG_RETRYABLE = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """The URL with the async driver we use for its engine (`postgresql://` becomes `postgresql+asyncpg://`)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigurationError(f"OMNIBOT_DATABASE_URL: unsupported database {backend!r} (sqlite or postgresql)")
    return parsed.set(drivername=_DRIVERS[backend]).render_as_string(hide_password=False)


def is_transient(exc: BaseException) -> bool:
    """True when retrying the whole transaction may succeed."""
    if isinstance(exc, TransientDatabaseError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _PG_RETRYABLE:
        return True
    return str(getattr(orig, "sqlite_errorname", "")).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


class UnitOfWork:
    """One database transaction: `async with uow:` begins it; `commit()` keeps it; anything else rolls it back.

    The transaction lives on a connection; an ORM session is opened on it only when a service asks for one, so
    the ledger's Core statements (the hottest path) pay nothing for the ORM.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        ids: IdGenerator,
        dialect: Dialect,
        *,
        readonly: bool,
        audit_key: bytes | None = None,
    ) -> None:
        self._engine = engine
        self.clock = clock
        self.ids = ids
        self.dialect: Dialect = dialect
        self.readonly = readonly
        self.audit_key = audit_key  # the audit trail's HMAC key (core/audit.py); None: a plain hash chain
        self._connection: AsyncConnection | None = None
        self._session: AsyncSession | None = None

    @property
    def connection(self) -> AsyncConnection:
        """The transaction's connection, for Core statements."""
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside `async with`")
        return self._connection

    @property
    def session(self) -> AsyncSession:
        """An ORM session in the same transaction, for services working with mapped objects."""
        if self._session is None:
            self._session = AsyncSession(bind=self.connection, expire_on_commit=False)
        return self._session

    async def __aenter__(self) -> Self:
        connection = await self._engine.connect()
        try:
            if self.readonly:  # postgresql_readonly: PostgreSQL itself refuses a write in a unit of work opened to read
                await connection.execution_options(**{_READONLY: True, "postgresql_readonly": True})
            # Begin now, so that a SQLite writer holds the write lock for the whole unit of work.
            await connection.begin()
        except BaseException:  # re-raised: the connection goes back to the pool even when the task is cancelled
            await connection.close()
            raise
        self._connection = connection
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection, session = self.connection, self._session
        self._connection = self._session = None
        try:
            if session is not None:
                await session.close()
        finally:
            await connection.close()  # rolls back whatever was not committed

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.flush()
        await self.connection.commit()

    async def rollback(self) -> None:
        if self._session is not None:
            self._session.expunge_all()
        await self.connection.rollback()


class Database:
    """The engine, its session factory and the injected clock and id generator every unit of work carries."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        ids: IdGenerator,
        pool_size: int = 10,
        max_overflow: int = 10,
        retry_attempts: int = 5,
        sqlite_busy_timeout_ms: int = 10_000,
        rng: random.Random | None = None,
        audit_key: bytes | None = None,
    ) -> None:
        url = async_url(url)
        self.dialect: Dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        # No pre-ping: a connection found dead fails its transaction as invalidated, and `transact` runs it again.
        options: dict[str, Any] = {"pool_size": pool_size, "max_overflow": max_overflow}
        if self.dialect == "postgresql":
            options["connect_args"] = {"server_settings": {"application_name": "omnibot", "timezone": "UTC"}}
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, sqlite_busy_timeout_ms)
        self.clock = clock
        self.ids = ids
        self._retry_attempts = retry_attempts
        self._rng = rng or random.Random()
        self._audit_key = audit_key

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock, ids: IdGenerator) -> Database:
        return cls(
            settings.database_url.get_secret_value(),
            clock=clock,
            ids=ids,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            retry_attempts=settings.database_retry_attempts,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            audit_key=settings.audit_key.get_secret_value().encode() if settings.audit_key else None,
        )

    def unit_of_work(self, *, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, self.ids, self.dialect, readonly=readonly, audit_key=self._audit_key)

    async def transact(self, work: Callable[[UnitOfWork], Awaitable[T]], *, readonly: bool = False) -> T:
        """Run `work` in a unit of work and commit; on a transient failure run it again from the start."""
        for attempt in range(1, self._retry_attempts + 1):
            try:
                async with self.unit_of_work(readonly=readonly) as uow:
                    result = await work(uow)
                    await uow.commit()
                    return result
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt == self._retry_attempts:
                    raise TransientDatabaseError(f"gave up after {attempt} attempts: {exc}") from exc
                # Exponential backoff with full jitter, so retrying writers do not collide again in step.
                await asyncio.sleep(self._rng.uniform(0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")

    def libpq_url(self) -> str | None:
        """The PostgreSQL URL for a connection of its own, outside the pool (LISTEN, an advisory lock held as
        long as the process lives); None on SQLite."""
        if self.dialect != "postgresql":
            return None
        return self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module, so that BEGIN is ours to write (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # synchronous=FULL: a commit the ledger reported survives a power cut, not only a crash.
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            f"busy_timeout={busy_timeout_ms}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        readonly = connection.get_execution_options().get(_READONLY, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def dialect_insert(uow: UnitOfWork, table: Any) -> Any:
    """An INSERT of the unit of work's dialect, for ON CONFLICT clauses (both engines speak them alike)."""
    return (postgresql.insert if uow.dialect == "postgresql" else sqlite.insert)(table)


def insert_ignoring_conflicts(uow: UnitOfWork, table: Any) -> Any:
    """An INSERT that quietly does nothing when a unique key already exists (the race-free get-or-create)."""
    return dialect_insert(uow, table).on_conflict_do_nothing()
