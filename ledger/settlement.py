"""Settlement of sale proceeds (T+1 business days) and the cash an investor may withdraw.

A sale's net proceeds are in the investor's cash at once (they can buy with them) and are recorded here as
pending until their settlement date; withdrawable cash leaves them out until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Table, func, select

from core.bulk import insert_rows
from core.db import UnitOfWork

from .accounts import AccountKind, Asset
from .models import PendingSettlement
from .money import ZERO
from .service import open_account

PENDING: Table = PendingSettlement.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Proceeds:
    key: str  # the sale's idempotency key: recorded once
    owner_id: UUID
    amount: Decimal
    settles_on: date


async def record_proceeds(uow: UnitOfWork, proceeds: Sequence[Proceeds]) -> None:
    rows = [
        {
            "key": p.key,
            "owner_id": p.owner_id,
            "amount": p.amount,
            "settles_on": p.settles_on,
            "created_at": uow.clock.now(),
        }
        for p in proceeds
        if p.amount > 0
    ]
    await insert_rows(uow, PENDING, rows, ignore_conflicts=True)


async def unsettled_cash(uow: UnitOfWork, owner_id: UUID, today: date) -> Decimal:
    query = select(func.coalesce(func.sum(PENDING.c.amount), 0)).where(
        PENDING.c.owner_id == owner_id, PENDING.c.settles_on > today
    )
    return Decimal((await uow.connection.execute(query)).scalar_one())


async def withdrawable_cash(uow: UnitOfWork, owner_id: UUID, today: date, currency: str = "USD") -> Decimal:
    """Cash not held for open orders, less sale proceeds not settled by `today`; never below zero."""
    cash = await open_account(uow, AccountKind.INVESTOR_CASH, Asset.cash(currency), owner_id)
    return max(ZERO, cash.available - await unsettled_cash(uow, owner_id, today))
