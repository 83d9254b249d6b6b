"""Margin credit: a margin investor's loan is their cash below zero (their debit balance), lent from house funds.

An account's credit line is how far below zero its available cash may go. The broker extends it when it holds a
margin buy beyond the investor's cash, and only while the house's lending stays within its capacity: lending is,
over all investors, the cash set aside or spent beyond what each one has (held - balance, where positive). So
other investors' cash is never lent, and two orders cannot both take the last of the capacity: extensions queue
on one lock. Lines shrink back to what is in use when orders fill or end (`tighten_credit`); any cash that
arrives (sale proceeds, deposits) repays the loan by itself, since it raises the balance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from uuid import UUID

from sqlalchemy import case, func, select, update

from core.db import UnitOfWork
from core.errors import LendingCapacityExceeded
from core.sql import in_list

from . import store
from .accounts import AccountKind, AccountState, Asset
from .money import ZERO
from .service import open_account

_HELD, _BALANCE = store.ACCOUNTS.c.held, store.ACCOUNTS.c.balance
_LENT = case((_HELD > _BALANCE, _HELD - _BALANCE), else_=0)
_INVESTOR_CASH = store.ACCOUNTS.c.kind == AccountKind.INVESTOR_CASH.value


async def house_lending(uow: UnitOfWork) -> Decimal:
    """What the house has lent or promised to lend, all investors together."""
    total = await uow.connection.scalar(select(func.coalesce(func.sum(_LENT), 0)).where(_INVESTOR_CASH))
    return Decimal(total or 0)


async def extend_credit(uow: UnitOfWork, account: AccountState, amount: Decimal, capacity: Decimal) -> AccountState:
    """Let the account (a margin investor's cash) hold `amount` more than it has available, the house's
    capacity permitting; the line is raised to what that needs, never lowered here."""
    needed = max(ZERO, amount - account.available)
    if needed <= account.credit_line:
        return account
    # One lock for every extension: the house's equity account, the row that stands for the house's own funds.
    await store.accounts_by_id(uow, [(await _house_funds(uow)).id], lock=True)
    lent_elsewhere = await house_lending(uow) - max(ZERO, account.held - account.balance)
    if lent_elsewhere + needed > capacity:
        raise LendingCapacityExceeded(needed, max(ZERO, capacity - lent_elsewhere))
    await uow.connection.execute(
        update(store.ACCOUNTS).where(store.ACCOUNTS.c.id == account.id).values(credit_line=needed)
    )
    return replace(account, credit_line=needed)


async def tighten_credit(uow: UnitOfWork, owner_ids: Iterable[UUID]) -> None:
    """Bring the owners' credit lines down to what their loans and open buys use now."""
    owners = sorted(set(owner_ids))
    if not owners:
        return
    await uow.connection.execute(
        update(store.ACCOUNTS)
        .where(_INVESTOR_CASH, store.ACCOUNTS.c.credit_line > 0, in_list(store.ACCOUNTS.c.owner_id, "owners"))
        .values(credit_line=_LENT),
        {"owners": owners},
    )


async def _house_funds(uow: UnitOfWork) -> AccountState:
    return await open_account(uow, AccountKind.HOUSE_EQUITY, Asset.cash("USD"))
