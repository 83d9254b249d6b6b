"""Investors who lead: opting in with a public alias, a short description and an optional profit share (within
the platform's maximum), and an admin's approval when the platform asks for one."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from uuid import UUID

from core import audit, user_service
from core.config import Settings
from core.db import UnitOfWork
from core.errors import CopyRefused
from core.outbox import Message, publish
from core.users import UserStatus
from ledger.money import ZERO

from . import store
from .store import LeaderRecord
from .terms import LeaderStatus

ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,23}")


async def become_leader(
    uow: UnitOfWork, settings: Settings, user_id: UUID, alias: str, description: str, profit_share_pct: Decimal
) -> LeaderRecord:
    """Opt in as a leader (or change what followers see); pending an admin's approval when the platform asks."""
    if (await user_service.get_user(uow, user_id)).status is not UserStatus.ACTIVE:
        raise CopyRefused("only an active account can lead")
    alias = alias.strip().lstrip("@")
    if not ALIAS.fullmatch(alias):
        raise CopyRefused("an alias is 3 to 24 letters, digits or _, starting with a letter")
    if not ZERO <= profit_share_pct <= settings.copy_max_profit_share_pct:
        raise CopyRefused(f"the profit share must be between 0 and {settings.copy_max_profit_share_pct} %")
    taken = await store.leader_by_alias(uow, alias)
    if taken is not None and taken.user_id != user_id:
        raise CopyRefused(f"the alias {alias} is taken")
    now, existing = uow.clock.now(), await store.leader_by_user(uow, user_id, lock=True)
    approved = existing is not None and existing.status is LeaderStatus.ACTIVE
    status = LeaderStatus.ACTIVE if approved or not settings.copy_leader_approval else LeaderStatus.PENDING
    leader = LeaderRecord(user_id, alias, alias.lower(), description.strip()[:200], profit_share_pct, status, now, now)
    if existing is None:
        await store.insert_leader(uow, leader)
    else:
        leader = replace(leader, created_at=existing.created_at)
        await store.save_leader(uow, leader)
    await audit.record(uow, f"user:{user_id}", "leader.opted_in", user_id, alias=alias, share=profit_share_pct)
    if status is LeaderStatus.PENDING:
        key, for_admins = f"leader_pending/{user_id}/{now.isoformat()}", {"alias": alias, "leader_id": str(user_id)}
        told = [
            Message("copy.leader_pending", key, _facts(leader)),
            Message("admin.leader_pending", f"admin/{key}", for_admins),
        ]
        await publish(uow, told)
    return leader


async def review_leader(uow: UnitOfWork, user_id: UUID, *, approve: bool) -> LeaderRecord:
    """An admin's decision on a pending leader; the investor is told."""
    leader = await store.leader_by_user(uow, user_id, lock=True)
    if leader is None or leader.status is not LeaderStatus.PENDING:
        raise CopyRefused("there is no pending leader to review")
    status = LeaderStatus.ACTIVE if approve else LeaderStatus.REJECTED
    reviewed = replace(leader, status=status, updated_at=uow.clock.now())
    await store.save_leader(uow, reviewed)
    await audit.record(uow, "admin", f"leader.{status.value}", user_id, alias=leader.alias)
    key = f"leader_{status.value}/{user_id}/{reviewed.updated_at.isoformat()}"
    await publish(uow, [Message(f"copy.leader_{status.value}", key, _facts(reviewed))])
    return reviewed


async def active_leader(uow: UnitOfWork, alias: str) -> LeaderRecord:
    leader = await store.leader_by_alias(uow, alias.strip().lstrip("@"))
    if leader is None or leader.status is not LeaderStatus.ACTIVE:
        raise CopyRefused(f"there is no leader called {alias.strip()}")
    return leader


def _facts(leader: LeaderRecord) -> dict[str, str]:
    return {"owner_id": str(leader.user_id), "alias": leader.alias, "status": leader.status.value}
