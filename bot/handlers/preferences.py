"""/notifications: what you want to hear of, and how (on, silent or off), per kind."""

from __future__ import annotations

from telegram import Update

from core import notifications
from core.errors import InvalidCommand
from core.users import UserRecord

from ..context import BotContext
from ..render import esc

USAGE = "/notifications [KIND on|silent|off]"


async def show(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Your notification settings; /notifications alerts silent sends price alerts without a sound."""
    assert user is not None
    words = [word.lower() for word in context.args or []]
    db = context.services.db
    if words:
        if len(words) != 2 or words[0] not in notifications.KINDS or words[1] not in notifications.MODES:
            raise InvalidCommand("name a kind and on, silent or off", USAGE)
        await db.transact(lambda uow: notifications.choose(uow, user.id, words[0], words[1]))
    modes = await db.transact(lambda uow: notifications.modes_of(uow, user.id), readonly=True)
    lines = ["<b>Notifications</b>"] + [
        f"{esc(kind)} ({esc(about)}): {modes[kind]}" for kind, about in notifications.KINDS.items()
    ]
    lines.append(
        f"Change one: <code>{esc(USAGE)}</code>. Fills, security messages, money, margin calls and a stop or "
        "target that sells are always sent."
    )
    await context.bot.send_message(user.telegram_id, "\n".join(lines))
