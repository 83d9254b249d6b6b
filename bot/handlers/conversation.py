"""Plain text (not a command): an onboarding answer, a 6-digit code, or something I cannot read."""

from __future__ import annotations

from telegram import Update

from core.users import UserRecord, UserStatus

from ..context import BotContext
from . import onboarding, security


async def on_text(update: Update, context: BotContext, user: UserRecord | None) -> None:
    assert user is not None
    message = update.effective_message
    assert message is not None
    text = (message.text or "").strip()
    if user.status is UserStatus.NEW:
        await onboarding.on_answer(update, context, user)
    elif security.CODE.fullmatch(text):
        await security.on_code(update, context, user, text)
    else:
        await message.reply_text("Sorry, I did not understand that. Send /help to see what I can do.")
