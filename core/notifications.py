"""Notification settings: what each user wants to hear of, per kind (on, silent, off). The notifier leaves out a
kind turned off and sends a silent one without a sound; the daily summary is the one kind off until asked for."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from sqlalchemy import Table, select

from core.bulk import upsert_rows
from core.db import UnitOfWork
from core.models import NotificationSetting, User
from core.users import Role, UserStatus

SETTINGS: Table = NotificationSetting.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
KINDS = {
    "broadcast": "news and announcements from the platform",
    "alerts": "your price alerts",
    "copy": "trades of the leaders you follow, and trades your copies did not follow",
    "risk": "a large fall in your account's value in a day",
    "summary": "a summary of your day after the close (off until you turn it on or silent)",
}
DEFAULTS = {"summary": "off"}  # every other kind is on until turned off
MODES = ("on", "silent", "off")
# The kind of each topic an investor may quieten; every other (fills, security, money, margin calls, a stop
# that sold) is always sent with sound.
TOPIC_KINDS = {
    "alert.price": "alerts",
    "copy.alert": "copy",
    "copy.skipped": "copy",
    "risk.drawdown": "risk",
    "report.daily": "summary",
}


async def modes_of(uow: UnitOfWork, user_id: UUID) -> dict[str, str]:
    query = select(SETTINGS.c.kind, SETTINGS.c.mode).where(SETTINGS.c.user_id == user_id)
    chosen = dict((await uow.connection.execute(query)).all())
    return {kind: chosen.get(kind, DEFAULTS.get(kind, "on")) for kind in KINDS}


async def chosen_modes(uow: UnitOfWork, user_ids: Collection[UUID]) -> dict[tuple[str, str], str]:
    """What these users chose, by (user id as text, kind)."""
    if not user_ids:
        return {}
    query = select(SETTINGS.c.user_id, SETTINGS.c.kind, SETTINGS.c.mode).where(SETTINGS.c.user_id.in_(user_ids))
    return {(str(user_id), kind): mode for user_id, kind, mode in await uow.connection.execute(query)}


def mode_for(chosen: dict[tuple[str, str], str], owner_id: str, topic: str) -> str:
    kind = TOPIC_KINDS.get(topic)
    return "on" if kind is None else chosen.get((owner_id, kind), DEFAULTS.get(kind, "on"))


async def choose(uow: UnitOfWork, user_id: UUID, kind: str, mode: str) -> None:
    row = {"user_id": user_id, "kind": kind, "mode": mode, "updated_at": uow.clock.now()}
    await upsert_rows(uow, SETTINGS, [row], key=("user_id", "kind"))


async def audience(uow: UnitOfWork, kind: str) -> list[tuple[UUID, str]]:
    """Active investors who hear of this kind (by choice or by its default), with how (on or silent)."""
    query = (
        select(USERS.c.id, SETTINGS.c.mode)
        .outerjoin(SETTINGS, (SETTINGS.c.user_id == USERS.c.id) & (SETTINGS.c.kind == kind))
        .where(USERS.c.status == UserStatus.ACTIVE.value, USERS.c.role == Role.INVESTOR.value)
    )
    fallback = DEFAULTS.get(kind, "on")
    chosen = [(user_id, mode or fallback) for user_id, mode in await uow.connection.execute(query)]
    return [(user_id, mode) for user_id, mode in chosen if mode != "off"]
