"""Notification settings: what each user wants to hear of, per kind (on, silent, off). Broadcasts are the first
kind an investor can turn off; the notifier sends a silent kind without a sound."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Table, select

from core.bulk import upsert_rows
from core.db import UnitOfWork
from core.models import User
from core.users import Role, UserStatus

from .models import NotificationSetting

SETTINGS: Table = NotificationSetting.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
KINDS = {"broadcast": "news and announcements from the platform"}
MODES = ("on", "silent", "off")


async def modes_of(uow: UnitOfWork, user_id: UUID) -> dict[str, str]:
    query = select(SETTINGS.c.kind, SETTINGS.c.mode).where(SETTINGS.c.user_id == user_id)
    chosen = dict((await uow.connection.execute(query)).all())
    return {kind: chosen.get(kind, "on") for kind in KINDS}


async def choose(uow: UnitOfWork, user_id: UUID, kind: str, mode: str) -> None:
    row = {"user_id": user_id, "kind": kind, "mode": mode, "updated_at": uow.clock.now()}
    await upsert_rows(uow, SETTINGS, [row], key=("user_id", "kind"))


async def audience(uow: UnitOfWork, kind: str) -> list[tuple[UUID, str]]:
    """Active investors who did not turn this kind off, with how they want it (on or silent)."""
    query = (
        select(USERS.c.id, SETTINGS.c.mode)
        .outerjoin(SETTINGS, (SETTINGS.c.user_id == USERS.c.id) & (SETTINGS.c.kind == kind))
        .where(USERS.c.status == UserStatus.ACTIVE.value, USERS.c.role == Role.INVESTOR.value)
    )
    return [(user_id, mode or "on") for user_id, mode in (await uow.connection.execute(query)) if mode != "off"]
