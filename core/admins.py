"""Who is an admin: granted and revoked by the operator (`omnibot admin grant|revoke TELEGRAM_ID`), or named in
`OMNIBOT_ADMIN_TELEGRAM_IDS`, which grants on the person's /start and at every start of the bot. Each change is
audited. An admin still needs a second factor: every action of the admin chat asks for a fresh code.

A grant needs the person to have written to the bot once (/start): Omnibot knows nobody before that. Taking an id
out of the setting does not revoke it; `omnibot admin revoke` does.
"""

from __future__ import annotations

from sqlalchemy import select

from core import audit, user_service
from core.config import Settings
from core.db import UnitOfWork
from core.errors import NotFound
from core.models import User
from core.users import Role, UserRecord


async def set_admin(uow: UnitOfWork, telegram_id: int, actor: str, *, admin: bool = True) -> UserRecord:
    """Grant (or revoke) the admin role of the user with this Telegram id; NotFound before their /start."""
    user = await user_service.find_by_telegram_id(uow, telegram_id)
    if user is None:
        raise NotFound("user with Telegram id", telegram_id)
    role = Role.ADMIN if admin else Role.INVESTOR
    if user.role is role:
        return user
    changed = await user_service.set_role(uow, user.id, role)
    await audit.record(uow, actor, "admin.granted" if admin else "admin.revoked", user.id, telegram_id=telegram_id)
    return changed


async def grant_configured(uow: UnitOfWork, settings: Settings, among: set[int] | None = None) -> list[int]:
    """Make admins of the configured ids who have registered (of `among` only, when given); the ids granted now."""
    wanted = settings.admin_telegram_ids if among is None else settings.admin_telegram_ids & among
    if not wanted:
        return []
    query = select(User.telegram_id).where(User.telegram_id.in_(wanted), User.role != Role.ADMIN)
    granted = sorted((await uow.session.scalars(query)).all())
    for telegram_id in granted:
        await set_admin(uow, telegram_id, "settings")
    return granted


async def admins(uow: UnitOfWork) -> list[UserRecord]:
    query = select(User.telegram_id).where(User.role == Role.ADMIN).order_by(User.telegram_id)
    found = [
        await user_service.find_by_telegram_id(uow, telegram_id) for telegram_id in await uow.session.scalars(query)
    ]
    return [user for user in found if user is not None]
