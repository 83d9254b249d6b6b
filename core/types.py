"""Column types that behave the same on SQLite and PostgreSQL: aware UTC times and exact fixed-point numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from core.clock import require_utc

_INT64_MAX = 2**63 - 1
NUMERIC_PRECISION = 28


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out. SQLite keeps no offset, so values are stored there as naive UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = require_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class FixedDecimal(TypeDecorator[Decimal]):
    """An exact Decimal with `scale` places: NUMERIC(28, scale) on PostgreSQL; on SQLite, whose NUMERIC is a
    binary float, a 64-bit integer count of 10**-scale units, so that sums in SQL (and in triggers) stay exact.

    A value with more places than `scale`, or too large for the column, is refused rather than rounded.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self._unit = Decimal(1).scaleb(-scale)
        self._limit = Decimal(10) ** (NUMERIC_PRECISION - scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(NUMERIC_PRECISION, self.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Decimal | int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"{value!r}: amounts are Decimal (or int), never {type(value).__name__}")
        exact = Decimal(value)
        if not exact.is_finite() or exact != exact.quantize(self._unit) or abs(exact) >= self._limit:
            raise ValueError(f"{value!r} does not fit a fixed-point column with {self.scale} places")
        if dialect.name != "sqlite":
            return exact
        units = int(exact.scaleb(self.scale))
        if abs(units) > _INT64_MAX:
            raise ValueError(f"{value!r} exceeds what SQLite stores exactly at {self.scale} places")
        return units

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value).quantize(self._unit)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        # A literal compared with the column is bound through this type, so SQLite compares units with units.
        return self
