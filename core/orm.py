"""The declarative base every package's models share, so Alembic sees one metadata."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, LargeBinary, MetaData
from sqlalchemy.orm import DeclarativeBase, MappedColumn, mapped_column

# Stable constraint names: migrations can refer to them, and the autogenerate comparison stays quiet.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


ENCRYPTED = "encrypted"


def encrypted_column(**kwargs: Any) -> MappedColumn[Any]:
    """A column holding a value sealed by `core.crypto`; key rotation finds every such column by this mark."""
    return mapped_column(LargeBinary, info={ENCRYPTED: True}, **kwargs)


def str_enum(enum_type: type[StrEnum], name: str, length: int = 24) -> Enum:
    """A StrEnum stored by value as VARCHAR with a CHECK constraint: portable, and readable in plain SQL."""
    return Enum(
        enum_type,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )
