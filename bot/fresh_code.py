"""What waits for a fresh code from the authenticator (a follow, a bank account, a withdrawal, an admin's
action): the next 6-digit code the user sends is checked (counting towards the lockout when wrong) and the
waiting action taken, once, in the transaction of what it sets off (`peek_confirmed` gives the way to take it), so
that a process dying between the two leaves the action waiting for the next code rather than spent for nothing.

One thing at a time waits for a code: asking for another drops what waited, so that a later code (sent to unlock
trading, say) never carries out a withdrawal the user moved on from."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from core import pending_actions, two_factor
from core.db import UnitOfWork
from core.errors import ActionUnavailable
from core.pending_actions import Action, Spend
from core.users import UserRecord

from .context import BotContext

# What a fresh code confirms (the kinds of pending action that wait for one).
ADMIN_ACTION, FOLLOW, ADD_BANK, WITHDRAW = "admin_confirm", "follow_code", "bank_add", "withdraw_code"
ORDER_AFTER_UNLOCK = "after_unlock"  # the order to preview once the code has unlocked trading
KINDS = (ADMIN_ACTION, FOLLOW, ADD_BANK, WITHDRAW, ORDER_AFTER_UNLOCK)


async def ask_for_code(uow: UnitOfWork, user_id: Any, kind: str, payload: dict[str, Any], ttl: timedelta) -> None:
    """What the user's next fresh code is to confirm, in place of whatever waited for one."""
    await pending_actions.withdraw_kinds(uow, user_id, KINDS)
    await pending_actions.offer(uow, user_id, kind, payload, ttl)


async def wait_for_code(context: BotContext, user: UserRecord, kind: str, payload: dict[str, Any]) -> None:
    ttl = timedelta(seconds=context.services.settings.bot_confirm_seconds)
    await context.services.db.transact(lambda uow: ask_for_code(uow, user.id, kind, payload, ttl))


async def waiting(context: BotContext, user: UserRecord, kind: str) -> bool:
    return await context.services.db.transact(lambda uow: pending_actions.waiting(uow, user.id, kind), readonly=True)


async def peek_confirmed(context: BotContext, user: UserRecord, kind: str, code: str) -> tuple[Action, Spend]:
    """The action of this kind the code confirms, not taken yet, and how its effect's transaction takes it."""
    await _verified(context, user, code)
    waiting_now = await context.services.db.transact(
        lambda uow: pending_actions.peek_latest(uow, user.id, kind), readonly=True
    )
    if waiting_now is None:
        raise ActionUnavailable("expired")
    return waiting_now, functools.partial(pending_actions.take, token=waiting_now.token, user_id=user.id, kind=kind)


async def _verified(context: BotContext, user: UserRecord, code: str) -> None:
    services = context.services
    await two_factor.attempt(
        services.db, lambda uow: two_factor.verify(uow, services.cipher, services.settings, user.id, code)
    )
