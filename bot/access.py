"""Who may use what: the access levels of the command table, and the user behind an update."""

from __future__ import annotations

from enum import Enum

from telegram import Update

from core import user_service
from core.users import Role, UserRecord, UserStatus

from .context import BotContext


class Access(Enum):
    ANYONE = "anyone"  # even before /start (/start, /help)
    MEMBER = "member"  # registered, whatever the account's status (/profile, /2fa)
    INVESTOR = "investor"  # an active account (trading, portfolio)
    ADMIN = "admin"  # an admin, in a private chat


def allows(access: Access, user: UserRecord | None) -> bool:
    if access is Access.ANYONE:
        return True
    if user is None:
        return False
    if access is Access.MEMBER:
        return True
    if access is Access.INVESTOR:
        return user.status is UserStatus.ACTIVE
    return user.role is Role.ADMIN and user.status is UserStatus.ACTIVE


async def user_of(update: Update, context: BotContext) -> UserRecord | None:
    """The platform's user behind the update, or None when this Telegram user never sent /start. The gate's
    look-up is used again by the update's handler."""
    seen = context.omnibot.users_by_update
    if update.update_id in seen:
        return seen.pop(update.update_id)
    sender = update.effective_user
    if sender is None:
        return None
    return await context.services.db.transact(
        lambda uow: user_service.find_by_telegram_id(uow, sender.id), readonly=True
    )
