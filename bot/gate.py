"""The gate: the first handler every update meets (group -1). It drops updates with no user and updates
already taken up (by this bot process or another: Telegram delivers again what it thinks was lost), slows down
a user who sends too much, lets an unknown user only /start, and turns away frozen and closed accounts.
Whatever it refuses goes no further (ApplicationHandlerStop)."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import timedelta

from sqlalchemy import Table, delete
from telegram import Update
from telegram.ext import ApplicationHandlerStop

from core import logs
from core.db import UnitOfWork, insert_ignoring_conflicts
from core.users import UserStatus

from .access import user_of
from .context import BotContext
from .models import SeenUpdate

WINDOW_SECONDS = 60.0
OPEN_TO_STRANGERS = ("/start", "/help")
SEEN: Table = SeenUpdate.__table__  # type: ignore[assignment]
SEEN_KEPT = timedelta(days=1)
PRUNE_EVERY = 1000  # updates between two clean-ups of the seen ones


class Gate:
    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._recent: dict[int, deque[float]] = defaultdict(deque)  # per process: a user's bursts land on one bot

    async def __call__(self, update: Update, context: BotContext) -> None:
        sender = update.effective_user
        if sender is None or sender.is_bot:
            raise ApplicationHandlerStop
        if not await context.services.db.transact(lambda uow: _first_sight(uow, update.update_id)):
            raise ApplicationHandlerStop  # handled already, here or by another bot process
        sent = self._count(sender.id, context.services.clock.now().timestamp())
        if sent > self._per_minute:  # told once, then dropped quietly: answering a flood would be a flood
            if sent == self._per_minute + 1:
                await _refuse(update, "You are sending messages too fast. Please wait a minute and try again.")
            raise ApplicationHandlerStop
        user = await user_of(update, context)
        context.omnibot.remember_user(update.update_id, user)
        logs.bind(user_id=user.id if user else None)  # this update's task: every line it logs names the user
        if user is None:
            text = update.message.text if update.message and update.message.text else ""
            if not text.startswith(OPEN_TO_STRANGERS):
                await _refuse(update, "Welcome! Please send /start to open your account first.")
        elif user.status in (UserStatus.FROZEN, UserStatus.CLOSED):
            await _refuse(update, f"Your account is {user.status.value}. Please contact support.")

    def _count(self, telegram_id: int, now: float) -> int:
        """Count this update: the user's updates in the last minute, this one included."""
        recent = self._recent[telegram_id]
        while recent and now - recent[0] > WINDOW_SECONDS:
            recent.popleft()
        recent.append(now)
        return len(recent)


async def _first_sight(uow: UnitOfWork, update_id: int) -> bool:
    """Record the update as taken up; False when it was before."""
    now = uow.clock.now()
    row = {"update_id": update_id, "seen_at": now}
    taken = await uow.connection.execute(insert_ignoring_conflicts(uow, SEEN).values(**row))
    if update_id % PRUNE_EVERY == 0:
        await uow.connection.execute(delete(SEEN).where(SEEN.c.seen_at < now - SEEN_KEPT))
    return bool(taken.rowcount)


async def _refuse(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    raise ApplicationHandlerStop
