"""Leaders' statistics from the books, and the leaderboard.

A leader's record is their own book (not their copies of others'): its daily equity from the NAV history, the
money that came in or went out that day (deposits, withdrawals, transfers, money moved to or from their copies)
as external flows, and their own filled orders as trades. `stats.leader_stats` turns them into figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from sqlalchemy import func, select

from broker.order_store import ORDERS
from core.db import UnitOfWork
from ledger.flows import daily_flows
from ledger.portfolio import NAV

from . import store
from .stats import DailyEquity, Fill, LeaderStats, leader_stats
from .store import COPIES, LeaderRecord
from .terms import CopyMode, CopyStatus, LeaderStatus


class Ranking(StrEnum):
    RETURN = "return"  # best return over a year (or since start, when younger)
    DRAWDOWN = "drawdown"  # smallest worst fall first
    RISK = "risk"  # lowest risk score first
    FOLLOWERS = "followers"  # most followed first


@dataclass(frozen=True)
class Entry:
    leader: LeaderRecord
    stats: LeaderStats

    @property
    def headline_return(self) -> Decimal | None:
        return self.stats.return_365d if self.stats.return_365d is not None else self.stats.return_since_start


async def daily_equity(uow: UnitOfWork, owner_id: UUID) -> list[DailyEquity]:
    points = await uow.connection.execute(
        select(NAV.c.day, NAV.c.equity).where(NAV.c.owner_id == owner_id).order_by(NAV.c.day)
    )
    per_day = await daily_flows(uow, owner_id)
    return [DailyEquity(day, equity, per_day.get(day, Decimal(0))) for day, equity in points]


async def own_fills(uow: UnitOfWork, owner_id: UUID) -> list[Fill]:
    """The leader's own filled orders (their copies' left out), each as one fill at its average price."""
    rows = await uow.connection.execute(
        select(ORDERS)
        .where(ORDERS.c.owner_id == owner_id, ORDERS.c.sleeve_id.is_(None), ORDERS.c.filled_quantity > 0)
        .order_by(ORDERS.c.updated_at, ORDERS.c.id)
    )
    return [
        Fill(
            row.updated_at,
            row.con_id,
            row.side,
            row.filled_quantity,
            row.filled_gross / row.filled_quantity,
            row.commission,
        )
        for row in rows
    ]


async def statistics(uow: UnitOfWork, leader: LeaderRecord, today: date) -> LeaderStats:
    followers, copied = await _following(uow, [leader.user_id])
    points, fills = await daily_equity(uow, leader.user_id), await own_fills(uow, leader.user_id)
    return leader_stats(points, fills, today, followers.get(leader.user_id, 0), copied.get(leader.user_id, Decimal(0)))


async def leaderboard(uow: UnitOfWork, today: date) -> list[Entry]:
    return [
        Entry(leader, await statistics(uow, leader, today)) for leader in await store.leaders(uow, LeaderStatus.ACTIVE)
    ]


def rank(entries: Sequence[Entry], by: Ranking, *, max_risk: int = 7, min_days: int = 0) -> list[Entry]:
    """The leaders that pass the filters (a risk score at most `max_risk`, a track record of at least
    `min_days`), best first by `by`; ties by alias."""
    kept = [e for e in entries if e.stats.risk_score <= max_risk and e.stats.track_record_days >= min_days]
    kept.sort(key=lambda e: e.leader.alias_key)
    if by is Ranking.RETURN:
        kept.sort(key=lambda e: _or_worst(e.headline_return), reverse=True)
    elif by is Ranking.DRAWDOWN:
        kept.sort(key=lambda e: e.stats.max_drawdown)
    elif by is Ranking.RISK:
        kept.sort(key=lambda e: e.stats.risk_score)
    else:
        kept.sort(key=lambda e: e.stats.followers, reverse=True)
    return kept


def _or_worst(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal("-Infinity")


async def _following(uow: UnitOfWork, leader_ids: list[UUID]) -> tuple[dict[UUID, int], dict[UUID, Decimal]]:
    """Live followers per leader, and the money their copies put in (copied AUM)."""
    live = COPIES.c.status != CopyStatus.STOPPED.value
    rows = await uow.connection.execute(
        select(
            COPIES.c.leader_id,
            func.count(),
            func.coalesce(func.sum(COPIES.c.invested).filter(COPIES.c.mode == CopyMode.COPY.value), 0),
        )
        .where(live, COPIES.c.leader_id.in_(leader_ids))
        .group_by(COPIES.c.leader_id)
    )
    counts, money = {}, {}
    for leader_id, count, invested in rows:
        counts[leader_id], money[leader_id] = count, Decimal(invested or 0)
    return counts, money
