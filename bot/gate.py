"""The gate: the first handler every update meets (group -1). It drops updates with no user, slows down a user
who sends too much, lets an unknown user only /start, and turns away frozen and closed accounts. Whatever it
refuses goes no further (ApplicationHandlerStop)."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from core.users import UserStatus

from .access import user_of
from .context import BotContext

WINDOW_SECONDS = 60.0
OPEN_TO_STRANGERS = ("/start", "/help")


class Gate:
    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._recent: dict[int, deque[float]] = defaultdict(deque)  # per process: a user's bursts land on one bot

    async def __call__(self, update: Update, context: BotContext) -> None:
        sender = update.effective_user
        if sender is None or sender.is_bot:
            raise ApplicationHandlerStop
        sent = self._count(sender.id)
        if sent > self._per_minute:  # told once, then dropped quietly: answering a flood would be a flood
            if sent == self._per_minute + 1:
                await _refuse(update, "You are sending messages too fast. Please wait a minute and try again.")
            raise ApplicationHandlerStop
        user = await user_of(update, context)
        context.omnibot.remember_user(update.update_id, user)
        if user is None:
            text = update.message.text if update.message and update.message.text else ""
            if not text.startswith(OPEN_TO_STRANGERS):
                await _refuse(update, "Welcome! Please send /start to open your account first.")
        elif user.status in (UserStatus.FROZEN, UserStatus.CLOSED):
            await _refuse(update, f"Your account is {user.status.value}. Please contact support.")

    def _count(self, telegram_id: int) -> int:
        """Count this update: the user's updates in the last minute, this one included."""
        now, recent = time.monotonic(), self._recent[telegram_id]
        while recent and now - recent[0] > WINDOW_SECONDS:
            recent.popleft()
        recent.append(now)
        return len(recent)


async def _refuse(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    raise ApplicationHandlerStop
