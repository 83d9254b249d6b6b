"""Copy trading's SQL: leaders, copies, what copies ordered per leader's order, and signals to mirror."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Table, insert, select, update

from broker.order_states import OrderSide
from core.bulk import upsert_rows
from core.db import UnitOfWork
from core.sql import in_list
from ledger.accounts import Holder

from .models import Copy, CopyMirror, CopySignal, Leader
from .terms import CopyMode, CopyStatus, LeaderStatus, Sizing

LEADERS: Table = Leader.__table__  # type: ignore[assignment]
COPIES: Table = Copy.__table__  # type: ignore[assignment]
MIRRORS: Table = CopyMirror.__table__  # type: ignore[assignment]
SIGNALS: Table = CopySignal.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class LeaderRecord:
    user_id: UUID
    alias: str
    alias_key: str
    description: str
    profit_share_pct: Decimal
    status: LeaderStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CopyRecord:
    id: UUID  # also the id of the copy's sleeve in the ledger
    follower_id: UUID
    leader_id: UUID
    mode: CopyMode
    status: CopyStatus
    sizing: Sizing
    sizing_value: Decimal | None
    max_per_trade: Decimal | None
    stop_loss_pct: Decimal | None
    take_profit_pct: Decimal | None
    invested: Decimal
    high_water_mark: Decimal
    stop_reason: str
    keep_positions: bool
    created_at: datetime
    updated_at: datetime

    @property
    def holder(self) -> Holder:
        """The copy's own cash and shares: a sleeve of the follower's books."""
        return Holder(self.follower_id, self.id)


@dataclass(frozen=True)
class SignalRecord:
    id: int
    key: str
    leader_id: UUID
    leader_order_id: UUID | None
    copy_id: UUID | None  # for this copy only (buying into the leader's positions when it starts)
    con_id: int
    side: OrderSide
    price: Decimal
    position_before: Decimal
    position_after: Decimal
    order_quantity: Decimal
    order_filled: Decimal
    created_at: datetime
    processed_at: datetime | None


_ENUMS: dict[str, Any] = {"status": None, "mode": CopyMode, "sizing": Sizing, "side": OrderSide}


def _record(kind: type[Any], row: Row[Any], status: type[Any] | None = None) -> Any:
    values = row._mapping
    found = {}
    for field in fields(kind):
        value = values[field.name]
        enum = status if field.name == "status" else _ENUMS.get(field.name)
        found[field.name] = enum(value) if enum is not None and value is not None else value
    return kind(**found)


def _leader(row: Row[Any]) -> LeaderRecord:
    record: LeaderRecord = _record(LeaderRecord, row, LeaderStatus)
    return record


def _copy(row: Row[Any]) -> CopyRecord:
    record: CopyRecord = _record(CopyRecord, row, CopyStatus)
    return record


def _signal(row: Row[Any]) -> SignalRecord:
    record: SignalRecord = _record(SignalRecord, row)
    return record


def _row(record: Any) -> dict[str, Any]:
    return {field.name: getattr(record, field.name) for field in fields(record)}


# ---- leaders


async def insert_leader(uow: UnitOfWork, leader: LeaderRecord) -> None:
    await uow.connection.execute(insert(LEADERS), _row(leader))


async def save_leader(uow: UnitOfWork, leader: LeaderRecord) -> None:
    await uow.connection.execute(update(LEADERS).where(LEADERS.c.user_id == leader.user_id).values(**_row(leader)))


async def leader_by_user(uow: UnitOfWork, user_id: UUID, *, lock: bool = False) -> LeaderRecord | None:
    query = select(LEADERS).where(LEADERS.c.user_id == user_id)
    row = (await uow.connection.execute(query.with_for_update() if lock else query)).one_or_none()
    return None if row is None else _leader(row)


async def leader_by_alias(uow: UnitOfWork, alias: str) -> LeaderRecord | None:
    row = (await uow.connection.execute(select(LEADERS).where(LEADERS.c.alias_key == alias.lower()))).one_or_none()
    return None if row is None else _leader(row)


async def leaders(uow: UnitOfWork, status: LeaderStatus) -> list[LeaderRecord]:
    query = select(LEADERS).where(LEADERS.c.status == status.value).order_by(LEADERS.c.alias_key)
    return [_leader(row) for row in await uow.connection.execute(query)]


async def aliases_of(uow: UnitOfWork, user_ids: Iterable[UUID]) -> dict[UUID, str]:
    ids = sorted(set(user_ids))
    query = select(LEADERS.c.user_id, LEADERS.c.alias).where(in_list(LEADERS.c.user_id, "ids"))
    return dict((await uow.connection.execute(query, {"ids": ids})).all()) if ids else {}


async def leaders_among(uow: UnitOfWork, user_ids: Iterable[UUID]) -> set[UUID]:
    """Which of these users lead someone who follows them now (a live copy, alerts or copies)."""
    query = (
        select(COPIES.c.leader_id)
        .where(in_list(COPIES.c.leader_id, "ids"), COPIES.c.status != CopyStatus.STOPPED.value)
        .distinct()
    )
    ids = sorted(set(user_ids))
    return {row.leader_id for row in await uow.connection.execute(query, {"ids": ids})} if ids else set()


# ---- copies


async def insert_copy(uow: UnitOfWork, copy: CopyRecord) -> None:
    await uow.connection.execute(insert(COPIES), _row(copy))


async def save_copy(uow: UnitOfWork, copy: CopyRecord) -> None:
    values = _row(copy)
    values.pop("id")
    await uow.connection.execute(update(COPIES).where(COPIES.c.id == copy.id).values(**values))


async def copy_by_id(uow: UnitOfWork, copy_id: UUID, *, lock: bool = False) -> CopyRecord | None:
    query = select(COPIES).where(COPIES.c.id == copy_id)
    row = (await uow.connection.execute(query.with_for_update() if lock else query)).one_or_none()
    return None if row is None else _copy(row)


async def copies_of_leader(uow: UnitOfWork, leader_id: UUID, statuses: Sequence[CopyStatus]) -> list[CopyRecord]:
    query = (
        select(COPIES)
        .where(COPIES.c.leader_id == leader_id, COPIES.c.status.in_([s.value for s in statuses]))
        .order_by(COPIES.c.id)
    )
    return [_copy(row) for row in await uow.connection.execute(query)]


async def copies_of_follower(uow: UnitOfWork, follower_id: UUID, *, live: bool = True) -> list[CopyRecord]:
    query = select(COPIES).where(COPIES.c.follower_id == follower_id)
    if live:
        query = query.where(COPIES.c.status != CopyStatus.STOPPED.value)
    return [_copy(row) for row in await uow.connection.execute(query.order_by(COPIES.c.created_at))]


async def copies_in(uow: UnitOfWork, status: CopyStatus) -> list[CopyRecord]:
    query = select(COPIES).where(COPIES.c.status == status.value).order_by(COPIES.c.id)
    return [_copy(row) for row in await uow.connection.execute(query)]


async def copy_graph(uow: UnitOfWork) -> list[tuple[UUID, UUID]]:
    """(follower, leader) of every live copy that trades (alerts do not copy, so they make no cycle)."""
    query = select(COPIES.c.follower_id, COPIES.c.leader_id).where(
        COPIES.c.status != CopyStatus.STOPPED.value, COPIES.c.mode == CopyMode.COPY.value
    )
    return [(row.follower_id, row.leader_id) for row in await uow.connection.execute(query)]


# ---- mirrors


async def mirrored(
    uow: UnitOfWork, leader_order_id: UUID, copy_ids: Sequence[UUID]
) -> dict[UUID, tuple[Decimal, bool]]:
    """For each copy, the shares ordered so far for this leader's order, and whether a skip was told."""
    if not copy_ids:
        return {}
    query = select(MIRRORS).where(MIRRORS.c.leader_order_id == leader_order_id, in_list(MIRRORS.c.copy_id, "ids"))
    rows = await uow.connection.execute(query, {"ids": list(copy_ids)})
    return {row.copy_id: (row.ordered, row.skipped) for row in rows}


async def save_mirrored(uow: UnitOfWork, leader_order_id: UUID, progress: dict[UUID, tuple[Decimal, bool]]) -> None:
    rows = [
        {"copy_id": copy_id, "leader_order_id": leader_order_id, "ordered": ordered, "skipped": skipped}
        for copy_id, (ordered, skipped) in sorted(progress.items())
    ]
    if rows:
        await upsert_rows(uow, MIRRORS, rows, key=("copy_id", "leader_order_id"))


# ---- signals


async def insert_signals(uow: UnitOfWork, signals: Sequence[dict[str, Any]]) -> None:
    for signal in signals:
        await uow.connection.execute(insert(SIGNALS), signal)


async def next_signal(uow: UnitOfWork) -> SignalRecord | None:
    """The oldest signal not yet processed (mirrored in order: a leader's buy before their sale)."""
    query = select(SIGNALS).where(SIGNALS.c.processed_at.is_(None)).order_by(SIGNALS.c.id).limit(1)
    row = (await uow.connection.execute(query)).first()
    return None if row is None else _signal(row)


async def signal_by_id(uow: UnitOfWork, signal_id: int, *, lock: bool) -> SignalRecord | None:
    query = select(SIGNALS).where(SIGNALS.c.id == signal_id)
    if lock:
        query = query.with_for_update(skip_locked=True)
    row = (await uow.connection.execute(query)).first()
    return None if row is None else _signal(row)


async def mark_processed(uow: UnitOfWork, signal_id: int) -> None:
    now = uow.clock.now()
    await uow.connection.execute(update(SIGNALS).where(SIGNALS.c.id == signal_id).values(processed_at=now))
