"""SQL constructs that SQLAlchemy does not offer in the form our hot paths need."""

from __future__ import annotations

from typing import Any

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean


class InList(ColumnElement[bool]):
    """`column IN (values)` with the values bound under `name` as one list.

    PostgreSQL gets `column = ANY(:name)` with a single array parameter: one prepared statement whatever the
    number of values, and no re-rendering of the SQL on each execution (SQLAlchemy's "expanding" IN costs about
    as much CPU as a round trip). Other databases get the expanding IN.
    """

    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True  # a comparison already: never rendered as `(...) = 1` where booleans are ints
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's declared shape; read as the cache key)
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


def in_list(column: Any, name: str) -> InList:
    return InList(column, name)


@compiles(InList)
def _expanding_in(element: InList, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw))


@compiles(InList, "postgresql")
def _any_array(element: InList, compiler: Any, **kw: Any) -> str:
    values = bindparam(element.name, type_=ARRAY(element.column.type))
    return str(compiler.process(element.column == any_(values), **kw))
