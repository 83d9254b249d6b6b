"""The margin calculator on an investor's books: their account type, cash, loan, holds and positions, valued at
the marks given (the position's average cost where no mark is known)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Table, func, select

from core.calendar import trade_date
from core.config import Settings
from core.db import Database, UnitOfWork, dialect_insert
from core.outbox import Message, publish
from core.sql import in_list
from ledger.accounts import AccountKind, Asset
from ledger.credit import house_lending
from ledger.money import ZERO
from ledger.service import open_account
from ledger.store import ACCOUNTS, POSITIONS

from .margin import AccountType, Holding, MarginAccount, MarginFigures, MarginPolicy, MarginRule, figures
from .models import MarginOverride, TradingProfile
from .order_requests import Market

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


async def set_account_type(uow: UnitOfWork, owner_id: UUID, account_type: AccountType) -> None:
    """Make the investor's account a cash or a margin account (an admin's decision, after the margin agreement)."""
    statement = dialect_insert(uow, PROFILES).values(
        owner_id=owner_id, account_type=account_type.value, updated_at=uow.clock.now()
    )
    await uow.connection.execute(
        statement.on_conflict_do_update(
            index_elements=[PROFILES.c.owner_id],
            set_={"account_type": statement.excluded.account_type, "updated_at": statement.excluded.updated_at},
        )
    )


async def margin_account(uow: UnitOfWork, owner_id: UUID, marks: Mapping[int, Decimal]) -> MarginAccount:
    cash = await open_account(uow, AccountKind.INVESTOR_CASH, Asset.cash("USD"), owner_id)
    positions = await uow.connection.execute(
        select(ACCOUNTS.c.instrument_id, ACCOUNTS.c.balance, func.coalesce(POSITIONS.c.cost_basis, 0).label("basis"))
        .outerjoin(POSITIONS, POSITIONS.c.account_id == ACCOUNTS.c.id)
        .where(
            ACCOUNTS.c.owner_id == owner_id,
            ACCOUNTS.c.kind == AccountKind.INVESTOR_POSITION.value,
            ACCOUNTS.c.sleeve_id.is_(None),  # sleeves (copies) trade their own cash only: not margin collateral
            ACCOUNTS.c.balance != 0,
        )
    )
    holdings = [
        Holding(row.instrument_id, row.balance, marks.get(row.instrument_id) or Decimal(row.basis) / row.balance)
        for row in positions
    ]
    # A margin loan is cash below zero (ledger/credit.py); the calculator sees it as a loan beside cash.
    loan = max(ZERO, -cash.balance)
    kind = await account_type(uow, owner_id)
    lent = await house_lending(uow) if kind is AccountType.MARGIN else ZERO  # a cash account never borrows
    return MarginAccount(kind, cash.balance + loan, cash.held, loan, holdings, lent)


async def watch_maintenance(
    uow: UnitOfWork, settings: Settings, owner_ids: Collection[UUID], marks: Mapping[int, Decimal]
) -> list[UUID]:
    """Tell (outbox topic margin.maintenance_breach, once a trading day per investor) of every margin investor
    among the owners whose equity is below the maintenance requirement; the investors in breach."""
    if not owner_ids:
        return []
    margin_owners = (
        await uow.connection.execute(
            select(PROFILES.c.owner_id).where(
                PROFILES.c.account_type == AccountType.MARGIN.value, in_list(PROFILES.c.owner_id, "owners")
            ),
            {"owners": sorted(owner_ids)},
        )
    ).scalars()
    rules, breached, messages = await policy(uow, settings), [], []
    today = trade_date(uow.clock.now())
    for owner in margin_owners:
        now = figures(await margin_account(uow, owner, marks), rules)
        if now.maintenance_breach:
            breached.append(owner)
            messages.append(Message("margin.maintenance_breach", f"margin-breach/{owner}/{today}", _facts(owner, now)))
    await publish(uow, messages)
    return breached


def _facts(owner: UUID, now: MarginFigures) -> dict[str, str]:
    return {
        "owner_id": str(owner),
        "equity": str(now.equity),
        "loan": str(now.loan),
        "maintenance_requirement": str(now.maintenance_requirement),
        "excess_liquidity": str(now.excess_liquidity),
    }


async def withdrawal_cap(db: Database, settings: Settings, market: Market, owner_id: UUID) -> Decimal | None:
    """What margin rules let the investor take out: for a margin account, equity above the initial requirement
    at market prices; None for a cash account (its cash is the only limit)."""
    if await db.transact(lambda uow: account_type(uow, owner_id), readonly=True) is not AccountType.MARGIN:
        return None
    held = await db.transact(lambda uow: margin_account(uow, owner_id, {}), readonly=True)
    marks = {}
    for holding in held.holdings:
        quote = await market.quote(holding.con_id)
        marks[holding.con_id] = quote.last or quote.bid or holding.price

    async def read(uow: UnitOfWork) -> Decimal:
        shown = figures(await margin_account(uow, owner_id, marks), await policy(uow, settings))
        return max(ZERO, shown.equity - shown.initial_requirement)

    return await db.transact(read, readonly=True)
