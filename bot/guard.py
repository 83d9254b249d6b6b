"""Every command and button handler runs behind its access level, and a business refusal (DomainError) raised
inside becomes the investor's message (bot/explain.py); anything else goes to the central error handler."""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.error import TelegramError

from core import metrics
from core.errors import BrokerUnavailable, DomainError, SessionLocked
from core.users import UserRecord

from .access import Access, allows, user_of
from .context import BotContext
from .explain import explain
from .fresh_code import drop_waiting

log = logging.getLogger("omnibot.bot")
Handler = Callable[[Update, BotContext, UserRecord | None], Awaitable[None]]
Callback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]

REFUSED = {
    Access.MEMBER: "Please send /start to open your account first.",
    Access.INVESTOR: "This needs an open account. Send /start to see where yours is.",
    Access.ADMIN: "This command is for admins.",
}


def guarded(access: Access, handler: Handler) -> Callback:
    @functools.wraps(handler)
    async def run(update: Update, context: BotContext) -> None:
        user = await user_of(update, context)
        if not allows(access, user) or (access is Access.ADMIN and not _private(update)):
            await reply(update, REFUSED[access])
            return
        started = time.perf_counter()
        try:
            await handler(update, context, user)
        except (DomainError, BrokerUnavailable) as refused:  # the broker being away is news, not a fault
            replaced = await _code_to_unlock(context, user) if isinstance(refused, SessionLocked) else ""
            await reply(update, replaced + explain(refused))
        finally:
            metrics.UPDATE_SECONDS.labels(handler.__name__).observe(time.perf_counter() - started)

    return run


async def reply(update: Update, text: str) -> None:
    """Answer where the update came from: a button press gets its message answered, a message a reply."""
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):  # the handler may have answered the press already
            await update.callback_query.answer()
    if update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def on_error(update: object, context: BotContext) -> None:
    """The last resort: log what failed, with what update and user, and apologise with a reference to quote."""
    reference = secrets.token_hex(4)
    log.error("error %s handling an update", reference, exc_info=context.error)  # the gate bound the user's id
    if isinstance(update, Update) and update.effective_message is not None:
        await update.effective_message.reply_text(
            "Sorry, something went wrong on our side. Please try again; if it happens again, quote reference "
            f"<code>{reference}</code> to support."
        )


async def _code_to_unlock(context: BotContext, user: UserRecord | None) -> str:
    """The user is asked for a code to unlock trading: nothing else may take it (a withdrawal left waiting)."""
    if user is None:
        return ""
    try:
        return await context.services.db.transact(lambda uow: drop_waiting(uow, user.id))
    except Exception:  # the refusal is still to be told: what waited expires by itself
        log.exception("could not drop what waited for the user's code")
        return ""


def _private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == "private"
