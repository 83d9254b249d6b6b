"""Writing thousands of rows at once: a block's fill touches every order, hold, account and position in it.

PostgreSQL gets one statement whatever the number of rows: each column is bound as one array and the rows come
from `unnest(...)`, so nothing is rendered per row, the round trip is one, and statement-level triggers run once.
Values go through their column's type first (fixed-point scale, UTC, enums by value, JSON), as they would row
by row; names come from our own tables, never from input. Other databases run the equivalent statement once per
row (executemany).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Executable, Table, bindparam, insert, text, update
from sqlalchemy.engine import Dialect

from core.db import UnitOfWork, dialect_insert

Row = dict[str, Any]


async def insert_rows(uow: UnitOfWork, table: Table, rows: Sequence[Row], *, ignore_conflicts: bool = False) -> None:
    """Insert the rows (all with the same columns); with `ignore_conflicts`, rows whose unique key exists already
    are left out quietly."""
    if not rows:
        return
    columns = tuple(rows[0])
    if uow.dialect == "postgresql":
        dialect = uow.connection.dialect
        sql = _pg_insert(dialect, table, columns, "ON CONFLICT DO NOTHING" if ignore_conflicts else "")
        await uow.connection.execute(sql, _arrays(dialect, table, columns, rows))
        return
    statement = dialect_insert(uow, table).on_conflict_do_nothing() if ignore_conflicts else insert(table)
    await uow.connection.execute(statement, list(rows))


async def upsert_rows(uow: UnitOfWork, table: Table, rows: Sequence[Row], *, key: str | tuple[str, ...]) -> None:
    """Insert the rows, or where one with the same `key` (a column, or several) exists, overwrite its other
    columns."""
    if not rows:
        return
    keys = (key,) if isinstance(key, str) else key
    columns = tuple(rows[0])
    others = [column for column in columns if column not in keys]
    if uow.dialect == "postgresql":
        dialect = uow.connection.dialect
        assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in _quoted(dialect, tuple(others)))
        conflict = f"ON CONFLICT ({', '.join(_quoted(dialect, keys))}) DO UPDATE SET {assignments}"
        await uow.connection.execute(
            _pg_insert(dialect, table, columns, conflict), _arrays(dialect, table, columns, rows)
        )
        return
    statement = dialect_insert(uow, table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in keys], set_={column: statement.excluded[column] for column in others}
    )
    await uow.connection.execute(statement, list(rows))


async def update_rows(uow: UnitOfWork, table: Table, rows: Sequence[Row], *, key: str = "id") -> None:
    """Set the rows' other columns on the rows found by `key`. Lock the rows first (SELECT ... FOR UPDATE, in
    key order) where concurrent writers may meet: the update's own order of visits is the planner's."""
    if not rows:
        return
    columns = tuple(rows[0])
    if uow.dialect == "postgresql":
        dialect = uow.connection.dialect
        await uow.connection.execute(_pg_update(dialect, table, columns, key), _arrays(dialect, table, columns, rows))
        return
    prefixed = [{f"_{name}": value for name, value in row.items()} for row in rows]
    await uow.connection.execute(_update_by_key(table, columns, key), prefixed)


def _arrays(dialect: Dialect, table: Table, columns: tuple[str, ...], rows: Sequence[Row]) -> dict[str, list[Any]]:
    """One list per column, each value bound through its column's type."""
    arrays: dict[str, list[Any]] = {}
    for column in columns:
        convert = _bind(dialect, table, column)
        values = [row[column] for row in rows]
        arrays[column] = values if convert is None else [convert(value) for value in values]
    return arrays


@cache
def _bind(dialect: Dialect, table: Table, column: str) -> Callable[[Any], Any] | None:
    return table.c[column].type._cached_bind_processor(dialect)


def _pg_arrays(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> str:
    return ", ".join(f"CAST(:{c} AS {table.c[c].type.compile(dialect=dialect)}[])" for c in columns)


@cache
def _pg_insert(dialect: Dialect, table: Table, columns: tuple[str, ...], conflict: str) -> Executable:
    arrays, names = _pg_arrays(dialect, table, columns), ", ".join(_quoted(dialect, columns))
    return text(f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) {conflict}")  # noqa: S608


@cache
def _pg_update(dialect: Dialect, table: Table, columns: tuple[str, ...], key: str) -> Executable:
    names = _quoted(dialect, columns)
    assignments = ", ".join(f"{n} = v.{n}" for n, column in zip(names, columns, strict=True) if column != key)
    arrays = _pg_arrays(dialect, table, columns)
    sql = f"UPDATE {table.name} AS t SET {assignments} FROM unnest({arrays}) AS v({', '.join(names)}) "  # noqa: S608
    return text(f"{sql}WHERE t.{key} = v.{key}")


def _quoted(dialect: Dialect, columns: tuple[str, ...]) -> list[str]:
    return [dialect.identifier_preparer.quote(column) for column in columns]


@cache
def _update_by_key(table: Table, columns: tuple[str, ...], key: str) -> Executable:
    # Parameters are prefixed: SQLAlchemy keeps a column's own name for its SET clause.
    values: dict[str, Any] = {column: bindparam(f"_{column}") for column in columns if column != key}
    return update(table).where(table.c[key] == bindparam(f"_{key}")).values(values)
