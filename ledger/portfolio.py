"""An investor's portfolio: what the ledger holds for them (cash, what is set aside, what is not settled yet,
each position with its cost and realized P&L), and its valuation at given prices (pure).

Unrealized P&L = value - cost basis; day P&L = (last - previous close) x quantity. Cost includes commissions
(average cost method, see positions.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Table, func, select

from core.bulk import upsert_rows
from core.db import UnitOfWork

from .accounts import AccountKind, Holder
from .instruments import INSTRUMENTS
from .models import NavPoint
from .money import ZERO, round_cash
from .service import open_accounts
from .settlement import unsettled_cash
from .store import ACCOUNTS, POSITIONS

NAV: Table = NavPoint.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Holding:
    con_id: int
    symbol: str
    quantity: Decimal
    cost_basis: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True)
class Book:
    cash: Decimal  # the balance, settled or not (below zero: a margin loan)
    held: Decimal  # set aside for open buy orders
    unsettled: Decimal  # sale proceeds not settled yet
    holdings: tuple[Holding, ...]
    realized_closed: Decimal  # realized P&L of positions now closed


@dataclass(frozen=True)
class Mark:
    last: Decimal
    close: Decimal | None  # the previous session's close, for the day's change


@dataclass(frozen=True)
class ValuedHolding:
    holding: Holding
    mark: Mark | None  # None: no price now; valued at cost
    value: Decimal
    unrealized: Decimal
    unrealized_pct: Decimal | None
    day_pnl: Decimal | None


@dataclass(frozen=True)
class Valuation:
    book: Book
    holdings: tuple[ValuedHolding, ...]
    market_value: Decimal
    equity: Decimal  # cash + market value
    unrealized: Decimal
    realized: Decimal  # open positions' and closed ones'
    day_pnl: Decimal


async def book(
    uow: UnitOfWork, owner_id: UUID, today: date, currency: str = "USD", *, sleeve_id: UUID | None = None
) -> Book:
    """The investor's own book, or one of their sleeves' (a copy's) with `sleeve_id`."""
    holder = Holder(owner_id, sleeve_id)
    cash = (await open_accounts(uow, [holder.cash(currency)]))[0]
    in_sleeve = ACCOUNTS.c.sleeve_id.is_(None) if sleeve_id is None else ACCOUNTS.c.sleeve_id == sleeve_id
    rows = await uow.connection.execute(
        select(
            ACCOUNTS.c.instrument_id,
            INSTRUMENTS.c.symbol,
            ACCOUNTS.c.balance,
            func.coalesce(POSITIONS.c.cost_basis, 0).label("basis"),
            func.coalesce(POSITIONS.c.realized_pnl, 0).label("realized"),
        )
        .join(INSTRUMENTS, INSTRUMENTS.c.con_id == ACCOUNTS.c.instrument_id)
        .outerjoin(POSITIONS, POSITIONS.c.account_id == ACCOUNTS.c.id)
        .where(ACCOUNTS.c.owner_id == owner_id, ACCOUNTS.c.kind == AccountKind.INVESTOR_POSITION.value, in_sleeve)
        .order_by(INSTRUMENTS.c.symbol)
    )
    holdings, closed = [], ZERO
    for row in rows:
        basis, realized = Decimal(row.basis), Decimal(row.realized)
        if row.balance:
            holdings.append(Holding(row.instrument_id, row.symbol, row.balance, basis, realized))
        else:
            closed += realized
    # Unsettled proceeds are the investor's, wherever they sit: a sleeve's are counted in its owner's book.
    unsettled = await unsettled_cash(uow, owner_id, today) if sleeve_id is None else ZERO
    return Book(cash.balance, cash.held, unsettled, tuple(holdings), closed)


def valuation(book: Book, marks: Mapping[int, Mark]) -> Valuation:
    valued = tuple(_valued(holding, marks.get(holding.con_id)) for holding in book.holdings)
    market_value = sum((v.value for v in valued), ZERO)
    return Valuation(
        book=book,
        holdings=valued,
        market_value=market_value,
        equity=book.cash + market_value,
        unrealized=sum((v.unrealized for v in valued), ZERO),
        realized=book.realized_closed + sum((h.realized_pnl for h in book.holdings), ZERO),
        day_pnl=sum((v.day_pnl or ZERO for v in valued), ZERO),
    )


def _valued(holding: Holding, mark: Mark | None) -> ValuedHolding:
    if mark is None:
        return ValuedHolding(holding, None, holding.cost_basis, ZERO, None, None)
    value = round_cash(holding.quantity * mark.last)
    unrealized = value - holding.cost_basis
    pct = (unrealized / holding.cost_basis * 100).quantize(Decimal("0.01")) if holding.cost_basis else None
    day = round_cash((mark.last - mark.close) * holding.quantity) if mark.close else None
    return ValuedHolding(holding, mark, value, unrealized, pct, day)


async def record_equity(uow: UnitOfWork, owner_id: UUID, day: date, equity: Decimal) -> None:
    """Keep the day's latest valuation: a point of the equity curve."""
    row = {"owner_id": owner_id, "day": day, "equity": equity, "updated_at": uow.clock.now()}
    await upsert_rows(uow, NAV, [row], key=("owner_id", "day"))


async def equity_curve(uow: UnitOfWork, owner_id: UUID, since: date) -> list[tuple[date, Decimal]]:
    query = select(NAV.c.day, NAV.c.equity).where(NAV.c.owner_id == owner_id, NAV.c.day >= since).order_by(NAV.c.day)
    return [(row.day, row.equity) for row in await uow.connection.execute(query)]
