"""A position's life in an investor's own book, from their filled orders and the ledger's position: what was
bought and sold, at what average prices, the commissions, when it opened and closed, and the realized P&L (the
ledger's, average cost). What a P&L card shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, select

from core.db import UnitOfWork
from ledger.accounts import AccountKind
from ledger.money import ZERO
from ledger.store import ACCOUNTS, POSITIONS

from .order_states import OrderSide
from .order_store import ORDERS


@dataclass(frozen=True)
class PositionHistory:
    bought: Decimal
    buy_cost: Decimal  # before commissions
    sold: Decimal
    sale_proceeds: Decimal  # before commissions
    commissions: Decimal
    first_buy: datetime | None
    last_sale: datetime | None
    held: Decimal  # shares held now
    realized: Decimal  # the ledger's realized P&L, commissions included

    @property
    def closed(self) -> bool:
        return self.bought > 0 and self.held == 0

    @property
    def average_buy(self) -> Decimal | None:
        return self.buy_cost / self.bought if self.bought else None

    @property
    def average_sale(self) -> Decimal | None:
        return self.sale_proceeds / self.sold if self.sold else None

    @property
    def return_pct(self) -> Decimal | None:
        """Realized P&L on what was paid for the shares sold (at the average cost)."""
        if not self.sold or not self.bought:
            return None
        return self.realized / (self.buy_cost * self.sold / self.bought) * 100


async def position_history(uow: UnitOfWork, owner_id: UUID, con_id: int) -> PositionHistory:
    filled = (
        select(
            ORDERS.c.side,
            func.sum(ORDERS.c.filled_quantity),
            func.sum(ORDERS.c.filled_gross),
            func.sum(ORDERS.c.commission),
            func.min(ORDERS.c.created_at),
            func.max(ORDERS.c.updated_at),
        )
        .where(
            ORDERS.c.owner_id == owner_id,
            ORDERS.c.con_id == con_id,
            ORDERS.c.sleeve_id.is_(None),
            ORDERS.c.filled_quantity > 0,
        )
        .group_by(ORDERS.c.side)
    )
    sides = {side: row for side, *row in await uow.connection.execute(filled)}
    buys, sales = sides.get(OrderSide.BUY), sides.get(OrderSide.SELL)
    ledger = (
        select(ACCOUNTS.c.balance, func.coalesce(POSITIONS.c.realized_pnl, 0))
        .outerjoin(POSITIONS, POSITIONS.c.account_id == ACCOUNTS.c.id)
        .where(
            ACCOUNTS.c.owner_id == owner_id,
            ACCOUNTS.c.kind == AccountKind.INVESTOR_POSITION.value,
            ACCOUNTS.c.instrument_id == con_id,
            ACCOUNTS.c.sleeve_id.is_(None),
        )
    )
    held, realized = (await uow.connection.execute(ledger)).one_or_none() or (ZERO, ZERO)
    return PositionHistory(
        bought=Decimal(buys[0]) if buys else ZERO,
        buy_cost=Decimal(buys[1]) if buys else ZERO,
        sold=Decimal(sales[0]) if sales else ZERO,
        sale_proceeds=Decimal(sales[1]) if sales else ZERO,
        commissions=(Decimal(buys[2]) if buys else ZERO) + (Decimal(sales[2]) if sales else ZERO),
        first_buy=buys[3] if buys else None,
        last_sale=sales[4] if sales else None,
        held=Decimal(held),
        realized=Decimal(realized),
    )
