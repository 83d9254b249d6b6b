"""The margin calculator on an investor's books: their account type, cash, holds and positions, valued at the
marks given (the position's average cost where no mark is known)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Table, func, select

from core.config import Settings
from core.db import UnitOfWork
from ledger.accounts import AccountKind, Asset
from ledger.money import ZERO
from ledger.service import open_account
from ledger.store import ACCOUNTS, POSITIONS

from .margin import AccountType, Holding, MarginAccount, MarginPolicy, MarginRule
from .models import MarginOverride, TradingProfile

PROFILES: Table = TradingProfile.__table__  # type: ignore[assignment]
OVERRIDES: Table = MarginOverride.__table__  # type: ignore[assignment]


async def policy(uow: UnitOfWork, settings: Settings) -> MarginPolicy:
    rows = await uow.connection.execute(select(OVERRIDES))
    return MarginPolicy(
        standard=MarginRule(settings.margin_initial_pct / 100, settings.margin_maintenance_pct / 100),
        low_price=settings.margin_low_price,
        overrides={row.con_id: MarginRule(row.initial, row.maintenance) for row in rows},
        lending_capacity=settings.margin_lending_capacity,
    )


async def account_type(uow: UnitOfWork, owner_id: UUID) -> AccountType:
    found = (
        await uow.connection.execute(select(PROFILES.c.account_type).where(PROFILES.c.owner_id == owner_id))
    ).scalar()
    return AccountType(found) if found else AccountType.CASH


async def margin_account(uow: UnitOfWork, owner_id: UUID, marks: Mapping[int, Decimal]) -> MarginAccount:
    cash = await open_account(uow, AccountKind.INVESTOR_CASH, Asset.cash("USD"), owner_id)
    positions = await uow.connection.execute(
        select(ACCOUNTS.c.instrument_id, ACCOUNTS.c.balance, func.coalesce(POSITIONS.c.cost_basis, 0).label("basis"))
        .outerjoin(POSITIONS, POSITIONS.c.account_id == ACCOUNTS.c.id)
        .where(
            ACCOUNTS.c.owner_id == owner_id,
            ACCOUNTS.c.kind == AccountKind.INVESTOR_POSITION.value,
            ACCOUNTS.c.balance != 0,
        )
    )
    holdings = [
        Holding(row.instrument_id, row.balance, marks.get(row.instrument_id) or Decimal(row.basis) / row.balance)
        for row in positions
    ]
    return MarginAccount(await account_type(uow, owner_id), cash.balance, cash.held, ZERO, holdings)
