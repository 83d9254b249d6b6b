"""Money that came into or went out of an investor's own book without trading making it: deposits, withdrawals,
transfers, a withdrawal the bank returned, money moved to or from their copies, a profit share received.
Performance figures (a leader's returns, a day's drawdown) take these out, so a deposit is not a gain and a
withdrawal not a loss. (Shares a stopped copy hands back are not cash, and not counted here yet.)"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any
from uuid import UUID

from sqlalchemy import select

from core.calendar import trade_date
from core.db import UnitOfWork

from .accounts import AccountKind
from .money import ZERO
from .store import ACCOUNTS, ENTRIES, POSTINGS

EXTERNAL = ("deposit", "withdrawal", "withdrawal_return", "transfer", "sleeve_cash", "profit_share")


async def daily_flows(uow: UnitOfWork, owner_id: UUID) -> dict[date, Decimal]:
    """The net money in (positive) or out, per trading day, of the investor's own book."""
    per_day: dict[date, Decimal] = defaultdict(Decimal)
    for _owner, at, amount in await uow.connection.execute(_flows().where(ACCOUNTS.c.owner_id == owner_id)):
        per_day[trade_date(at)] -= amount
    return dict(per_day)


async def flows_by_day(
    uow: UnitOfWork, since: datetime, owners: Collection[UUID] | None = None
) -> dict[UUID, dict[date, Decimal]]:
    """The net money in (positive) or out since a moment, per investor (of those named) and trading day."""
    query = _flows().where(ENTRIES.c.created_at >= since)
    if owners is not None:
        query = query.where(ACCOUNTS.c.owner_id.in_(owners))
    found: dict[UUID, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for owner, at, amount in await uow.connection.execute(query):
        found[owner][trade_date(at)] -= amount
    return {owner: dict(days) for owner, days in found.items()}


def moved_after(days: dict[date, Decimal], after: date) -> Decimal:
    """The money moved on the trading days after `after` (up to today)."""
    return sum((amount for day, amount in days.items() if day > after), ZERO)


def daily_pnl(curve: Sequence[tuple[date, Decimal]], flows: Mapping[date, Decimal]) -> list[tuple[date, Decimal]]:
    """Each day's profit or loss: the change in value since the day before, less the money moved in that day."""
    return [(day, value - before - flows.get(day, ZERO)) for (_, before), (day, value) in pairwise(curve)]


def _flows() -> Any:
    # Investor cash is credit-normal: a credit posting (negative) is money in; the callers negate each amount.
    return (
        select(ACCOUNTS.c.owner_id, ENTRIES.c.created_at, POSTINGS.c.amount)
        .join(POSTINGS, POSTINGS.c.entry_id == ENTRIES.c.id)
        .join(ACCOUNTS, ACCOUNTS.c.id == POSTINGS.c.account_id)
        .where(
            ACCOUNTS.c.sleeve_id.is_(None),
            ACCOUNTS.c.kind == AccountKind.INVESTOR_CASH.value,
            ENTRIES.c.kind.in_(EXTERNAL),
        )
    )
