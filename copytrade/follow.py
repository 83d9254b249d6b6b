"""Following a leader: for alerts only, or copying their trades with money moved from the follower's free
cash into the copy's own sleeve; pausing, resuming, changing the terms, and stopping (keeping the copied
positions in the follower's own book, or closing them). The desk (`desk.py`) finishes what takes orders.

No one follows themselves, and no copy may close a circle of copies (A copies B who copies A): a leader's
trade would come back to them.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from uuid import UUID

from core import audit, user_service
from core.config import Settings
from core.db import UnitOfWork
from core.errors import CopyRefused, NotFound
from core.outbox import Message, publish
from core.users import UserStatus
from ledger.accounts import Holder
from ledger.money import ZERO, require_cash
from ledger.portfolio import book
from ledger.sleeves import move_cash, move_shares, sleeve_shares

from . import store
from .leaders import active_leader
from .mirror import opening_signals
from .store import CopyRecord, LeaderRecord
from .terms import COPY_MOVES, CopyMode, CopyStatus, CopyTerms, Sizing

STOP_LOSS_RANGE = (Decimal(5), Decimal(95))


def check_terms(terms: CopyTerms, settings: Settings) -> None:
    """The terms of a copy, refused with what is wrong (alerts need none)."""
    if terms.mode is CopyMode.ALERTS:
        return
    if terms.amount < settings.copy_min_allocation:
        raise CopyRefused(f"a copy needs at least {settings.copy_min_allocation} USD")
    if terms.stop_loss_pct is None or not STOP_LOSS_RANGE[0] <= terms.stop_loss_pct <= STOP_LOSS_RANGE[1]:
        raise CopyRefused("the copy's stop-loss must be between 5 and 95 % of what you put in")
    if terms.take_profit_pct is not None and terms.take_profit_pct <= 0:
        raise CopyRefused("a take-profit must be above 0 %")
    if terms.sizing is not Sizing.PROPORTIONAL and (terms.sizing_value is None or terms.sizing_value <= 0):
        raise CopyRefused("a fixed amount or a ratio must be above zero")
    if terms.max_per_trade is not None and terms.max_per_trade <= 0:
        raise CopyRefused("a maximum per trade must be above zero")


async def follow(uow: UnitOfWork, settings: Settings, follower_id: UUID, alias: str, terms: CopyTerms) -> CopyRecord:
    """Start following the leader; a copy takes its money from the follower's free cash at once."""
    check_terms(terms, settings)
    if (await user_service.get_user(uow, follower_id)).status is not UserStatus.ACTIVE:
        raise CopyRefused("only an active account can follow a leader")
    leader = await active_leader(uow, alias)
    if leader.user_id == follower_id:
        raise CopyRefused("you cannot follow yourself")
    if any(c.leader_id == leader.user_id for c in await store.copies_of_follower(uow, follower_id)):
        raise CopyRefused(f"you already follow {leader.alias}")
    if terms.mode is CopyMode.COPY and await _would_circle(uow, follower_id, leader.user_id):
        raise CopyRefused(f"{leader.alias} copies you, directly or through others: copying back would loop")
    now, amount = uow.clock.now(), require_cash(terms.amount) if terms.mode is CopyMode.COPY else ZERO
    copy = CopyRecord(
        id=uow.ids.new_id(),
        follower_id=follower_id,
        leader_id=leader.user_id,
        mode=terms.mode,
        status=CopyStatus.ACTIVE,
        sizing=terms.sizing,
        sizing_value=terms.sizing_value,
        max_per_trade=terms.max_per_trade,
        stop_loss_pct=terms.stop_loss_pct,
        take_profit_pct=terms.take_profit_pct,
        invested=amount,
        high_water_mark=ZERO,
        stop_reason="",
        keep_positions=False,
        created_at=now,
        updated_at=now,
    )
    await store.insert_copy(uow, copy)
    if amount:
        await move_cash(uow, Holder(follower_id), copy.holder, amount, key=f"copy/{copy.id}/fund", memo=_memo(leader))
    if terms.mode is CopyMode.COPY and terms.copy_open_positions:
        await opening_signals(uow, copy)  # the desk buys the copy's share of each of the leader's positions
    await _tell(uow, "copy.started", copy, leader.alias)
    # Last, as everywhere: the audit chain's lock is then held only until the commit.
    facts = {"leader": leader.alias, "mode": terms.mode.value, "amount": amount}
    await audit.record(uow, f"user:{follower_id}", "copy.started", copy.id, **facts)
    return copy


async def set_paused(uow: UnitOfWork, follower_id: UUID, copy_id: UUID, *, paused: bool) -> CopyRecord:
    copy = await own_copy(uow, follower_id, copy_id)
    target = CopyStatus.PAUSED if paused else CopyStatus.ACTIVE
    if copy.status is target:
        return copy
    return await _move(uow, copy, target)


async def change_terms(
    uow: UnitOfWork, settings: Settings, follower_id: UUID, copy_id: UUID, terms: CopyTerms
) -> CopyRecord:
    """New sizing, maximum per trade, stop-loss and take-profit (the money in the copy stays as it is)."""
    copy = await own_copy(uow, follower_id, copy_id)
    if copy.status is not CopyStatus.ACTIVE and copy.status is not CopyStatus.PAUSED:
        raise CopyRefused("this copy is stopping or stopped")
    check_terms(replace(terms, mode=copy.mode, amount=max(terms.amount, settings.copy_min_allocation)), settings)
    changed = replace(
        copy,
        sizing=terms.sizing,
        sizing_value=terms.sizing_value,
        max_per_trade=terms.max_per_trade,
        stop_loss_pct=terms.stop_loss_pct,
        take_profit_pct=terms.take_profit_pct,
        updated_at=uow.clock.now(),
    )
    await store.save_copy(uow, changed)
    return changed


async def begin_stop(
    uow: UnitOfWork, follower_id: UUID | None, copy_id: UUID, *, keep_positions: bool, reason: str
) -> CopyRecord:
    """Stop the copy: alerts stop at once; a copy stops once its open orders are done and its positions are
    kept (moved to the follower's own book) or sold (the desk's sweep). `follower_id` None: the platform stops
    it (a stop-loss, a take-profit)."""
    copy = await store.copy_by_id(uow, copy_id, lock=True)
    if copy is None or (follower_id is not None and copy.follower_id != follower_id):
        raise NotFound("copy", copy_id)
    if copy.status is CopyStatus.STOPPING or copy.status is CopyStatus.STOPPED:
        return copy
    if copy.mode is CopyMode.ALERTS:
        return await _move(uow, replace(copy, stop_reason=reason[:200]), CopyStatus.STOPPED)
    stopping = replace(copy, keep_positions=keep_positions, stop_reason=reason[:200])
    return await _move(uow, stopping, CopyStatus.STOPPING)


async def finish_stop(uow: UnitOfWork, copy: CopyRecord) -> CopyRecord:
    """The copy's orders are done and its positions sold or to be kept: its shares and cash go back to the
    follower's own book, and it is stopped."""
    follower, sleeve = Holder(copy.follower_id), copy.holder
    for con_id, quantity in (await sleeve_shares(uow, copy.id)).items():
        key = f"copy/{copy.id}/keep/{con_id}"
        await move_shares(uow, sleeve, follower, con_id, quantity, key=key, memo="copy stopped: positions kept")
    cash = (await book(uow, copy.follower_id, uow.clock.now().date(), sleeve_id=copy.id)).cash
    if cash > 0:
        await move_cash(uow, sleeve, follower, cash, key=f"copy/{copy.id}/return", memo="copy stopped")
    return await _move(uow, replace(copy, invested=ZERO), CopyStatus.STOPPED)


async def own_copy(uow: UnitOfWork, follower_id: UUID, copy_id: UUID) -> CopyRecord:
    copy = await store.copy_by_id(uow, copy_id, lock=True)
    if copy is None or copy.follower_id != follower_id:
        raise NotFound("copy", copy_id)
    return copy


async def _move(uow: UnitOfWork, copy: CopyRecord, target: CopyStatus) -> CopyRecord:
    if target not in COPY_MOVES[copy.status]:
        raise CopyRefused(f"a {copy.status.value} copy cannot become {target.value}")
    moved = replace(copy, status=target, updated_at=uow.clock.now())
    await store.save_copy(uow, moved)
    await audit.record(uow, f"user:{copy.follower_id}", f"copy.{target.value}", copy.id, why=copy.stop_reason)
    leader = await store.leader_by_user(uow, copy.leader_id)
    await _tell(uow, f"copy.{target.value}", moved, leader.alias if leader else "")
    return moved


async def _would_circle(uow: UnitOfWork, follower_id: UUID, leader_id: UUID) -> bool:
    """Whether the leader already copies the follower, directly or through others."""
    copies: dict[UUID, set[UUID]] = {}
    for follower, leader in await store.copy_graph(uow):
        copies.setdefault(follower, set()).add(leader)
    seen, frontier = set(), [leader_id]
    while frontier:
        someone = frontier.pop()
        if someone == follower_id:
            return True
        if someone not in seen:
            seen.add(someone)
            frontier.extend(copies.get(someone, ()))
    return False


async def _tell(uow: UnitOfWork, topic: str, copy: CopyRecord, alias: str) -> None:
    facts = {
        "owner_id": str(copy.follower_id),
        "copy_id": str(copy.id),
        "leader": alias,
        "mode": copy.mode.value,
        "status": copy.status.value,
        "invested": str(copy.invested),
        "reason": copy.stop_reason,
    }
    await publish(uow, [Message(topic, f"{topic}/{copy.id}/{copy.updated_at.isoformat()}", facts)])


def _memo(leader: LeaderRecord) -> str:
    return f"copy of {leader.alias}"
