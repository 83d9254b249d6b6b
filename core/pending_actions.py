"""Pending actions: what a user is asked to confirm with a button (an order preview's Confirm, say).

The button's callback data names only a random token; the action itself (its kind and payload) stays on the
server, belongs to one user, expires, and is taken at most once, atomically: a forged, replayed, expired or
another user's press finds nothing to do.

What a confirmation sets off is best done in the transaction that takes it (`take` inside the order's own
transaction, say): a process that dies between the two would leave a tap that was spent and did nothing.
`peek` reads an action without taking it, for the work that comes before.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Table, select, update

from core.db import UnitOfWork
from core.errors import ActionUnavailable
from core.models import PendingAction

ACTIONS: Table = PendingAction.__table__  # type: ignore[assignment]
# A confirmation spent in another service's transaction (`take`, partially applied): the service runs it first.
Spend = Callable[[UnitOfWork], Awaitable[object]]
T = TypeVar("T")
TOKEN_BYTES = 12  # 16 URL-safe characters: room in Telegram's 64 bytes of callback data for a prefix and a choice


def spent_with(
    spending: Spend | None, work: Callable[[UnitOfWork], Awaitable[T]]
) -> Callable[[UnitOfWork], Awaitable[T]]:
    """`work` with the confirmation (if any) spent first in its transaction: both happen, or neither."""

    async def both(uow: UnitOfWork) -> T:
        if spending is not None:
            await spending(uow)
        return await work(uow)

    return both


@dataclass(frozen=True)
class Action:
    token: str
    user_id: UUID
    kind: str
    payload: dict[str, Any]


async def offer(uow: UnitOfWork, user_id: UUID, kind: str, payload: dict[str, Any], ttl: timedelta) -> Action:
    """Record the action; its token goes on the button."""
    now = uow.clock.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    values = {"id": token, "user_id": user_id, "kind": kind, "payload": payload}
    await uow.connection.execute(ACTIONS.insert().values(**values, created_at=now, expires_at=now + ttl))
    return Action(token, user_id, kind, payload)


async def peek(uow: UnitOfWork, token: str, user_id: UUID, kind: str | None = None) -> Action:
    """The user's live action, left as it is; ActionUnavailable when it is unknown, another's, expired or used."""
    found = (await uow.connection.execute(select(ACTIONS).where(_mine(token, user_id, kind)))).one_or_none()
    if found is None:
        raise ActionUnavailable("unknown")
    if found.used_at is not None:
        raise ActionUnavailable("used")
    if found.expires_at <= uow.clock.now():
        raise ActionUnavailable("expired")
    return Action(token, user_id, found.kind, found.payload)


async def take(uow: UnitOfWork, token: str, user_id: UUID, kind: str | None = None) -> Action:
    """Use the user's action once; ActionUnavailable (as `peek` says why) when it cannot be."""
    now = uow.clock.now()
    taken = await uow.connection.execute(
        update(ACTIONS)
        .where(_mine(token, user_id, kind), ACTIONS.c.used_at.is_(None), ACTIONS.c.expires_at > now)
        .values(used_at=now)
        .returning(ACTIONS.c.kind, ACTIONS.c.payload)
    )
    row = taken.one_or_none()
    if row is not None:
        return Action(token, user_id, row.kind, row.payload)
    await peek(uow, token, user_id, kind)  # raises: unknown, used or expired
    raise ActionUnavailable("used")  # unreachable unless it changed between the two statements


def _mine(token: str, user_id: UUID, kind: str | None) -> Any:
    mine = (ACTIONS.c.id == token) & (ACTIONS.c.user_id == user_id)
    return mine if kind is None else mine & (ACTIONS.c.kind == kind)


async def waiting(uow: UnitOfWork, user_id: UUID, kind: str) -> bool:
    """Whether the user has a live action of this kind (nothing is taken)."""
    query = select(ACTIONS.c.id).where(
        ACTIONS.c.user_id == user_id,
        ACTIONS.c.kind == kind,
        ACTIONS.c.used_at.is_(None),
        ACTIONS.c.expires_at > uow.clock.now(),
    )
    return (await uow.connection.execute(query.limit(1))).first() is not None


async def peek_latest(uow: UnitOfWork, user_id: UUID, kind: str) -> Action | None:
    """The user's newest live action of this kind, left as it is."""
    token = await _latest(uow, user_id, kind)
    return None if token is None else await peek(uow, token, user_id, kind)


async def _latest(uow: UnitOfWork, user_id: UUID, kind: str) -> str | None:
    query = (
        select(ACTIONS.c.id)
        .where(
            ACTIONS.c.user_id == user_id,
            ACTIONS.c.kind == kind,
            ACTIONS.c.used_at.is_(None),
            ACTIONS.c.expires_at > uow.clock.now(),
        )
        .order_by(ACTIONS.c.created_at.desc())
        .limit(1)
    )
    token: str | None = (await uow.connection.execute(query)).scalar_one_or_none()
    return token


async def withdraw(uow: UnitOfWork, token: str, user_id: UUID) -> None:
    """The user declined (Cancel): the action can no longer be taken."""
    await uow.connection.execute(
        update(ACTIONS)
        .where(ACTIONS.c.id == token, ACTIONS.c.user_id == user_id, ACTIONS.c.used_at.is_(None))
        .values(used_at=uow.clock.now())
    )


async def withdraw_kinds(uow: UnitOfWork, user_id: UUID, kinds: Collection[str]) -> list[str]:
    """The user moved on: none of their live actions of these kinds can be taken any more (their kinds)."""
    now = uow.clock.now()
    withdrawn = await uow.connection.execute(
        update(ACTIONS)
        .where(
            ACTIONS.c.user_id == user_id,
            ACTIONS.c.kind.in_(kinds),
            ACTIONS.c.used_at.is_(None),
            ACTIONS.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(ACTIONS.c.kind)
    )
    return [kind for (kind,) in withdrawn]
