"""The IN-list construct renders as each database can use an index for."""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite

from core.sql import in_list
from ledger.store import ACCOUNTS


def test_postgresql_gets_one_array_parameter() -> None:
    query = select(ACCOUNTS.c.id).where(and_(in_list(ACCOUNTS.c.id, "ids"), ACCOUNTS.c.version > 0))
    sql = str(query.compile(dialect=postgresql.dialect()))
    assert "accounts.id = ANY (%(ids)s::UUID[]) AND" in sql


def test_sqlite_gets_a_plain_in_not_a_boolean_compared_with_one() -> None:
    """SQLite has no booleans; a construct it took for a boolean value would be written `(... IN (...)) = 1`,
    which no index can serve."""
    query = select(ACCOUNTS.c.id).where(and_(in_list(ACCOUNTS.c.id, "ids"), ACCOUNTS.c.version > 0))
    sql = str(query.compile(dialect=sqlite.dialect()))
    assert "accounts.id IN (__[POSTCOMPILE_ids]) AND" in sql
    assert "= 1" not in sql
