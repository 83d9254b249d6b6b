"""Instruments the platform trades, keyed by IB's conId."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import Table, select

from core.db import UnitOfWork, dialect_insert
from core.errors import NotFound

from .models import Instrument

INSTRUMENTS: Table = Instrument.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class InstrumentRecord:
    con_id: int
    symbol: str
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    description: str = ""


async def save_instrument(uow: UnitOfWork, instrument: InstrumentRecord) -> None:
    """Record the instrument, or refresh what IB says of it now."""
    values = asdict(instrument) | {"updated_at": uow.clock.now()}
    statement = dialect_insert(uow, INSTRUMENTS).values(**values)
    changes = {name: value for name, value in values.items() if name != "con_id"}
    await uow.session.execute(statement.on_conflict_do_update(index_elements=[INSTRUMENTS.c.con_id], set_=changes))


async def ensure_instrument(uow: UnitOfWork, instrument: InstrumentRecord) -> None:
    """Record the instrument if it is new; one already known is left as it is, and not locked (every order
    records its instrument: an update would make all orders in one share wait on each other)."""
    values = asdict(instrument) | {"updated_at": uow.clock.now()}
    await uow.session.execute(dialect_insert(uow, INSTRUMENTS).values(**values).on_conflict_do_nothing())


async def get_instrument(uow: UnitOfWork, con_id: int) -> InstrumentRecord:
    row = (await uow.session.execute(select(INSTRUMENTS).where(INSTRUMENTS.c.con_id == con_id))).one_or_none()
    if row is None:
        raise NotFound("instrument", con_id)
    return _record(row._mapping)


async def symbols_of(uow: UnitOfWork, con_ids: Iterable[int]) -> dict[int, str]:
    """The symbols of these instruments, in one read."""
    query = select(INSTRUMENTS.c.con_id, INSTRUMENTS.c.symbol).where(INSTRUMENTS.c.con_id.in_(set(con_ids)))
    return {row.con_id: row.symbol for row in await uow.session.execute(query)}


async def find_instrument(uow: UnitOfWork, symbol: str, currency: str = "USD") -> InstrumentRecord | None:
    query = select(INSTRUMENTS).where(INSTRUMENTS.c.symbol == symbol.upper(), INSTRUMENTS.c.currency == currency)
    row = (await uow.session.execute(query.order_by(INSTRUMENTS.c.con_id))).first()
    return None if row is None else _record(row._mapping)


def _record(row: object) -> InstrumentRecord:
    mapping = dict(row)  # type: ignore[call-overload]
    mapping.pop("updated_at")
    return InstrumentRecord(**mapping)
