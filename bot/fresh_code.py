"""What waits for a fresh code from the authenticator (a follow, a bank account, a withdrawal, an admin's
action, an order waiting for trading to unlock).

- One thing at a time waits for a code. Asking for another drops what waited, and so does a refusal that asks
  for the code to unlock trading: a later code never carries out a withdrawal the user moved on from.
- The next 6-digit code the user sends is checked (counting towards the lockout when wrong), and the waiting
  action is taken once, in the transaction of what it sets off (`confirmed_by_code`). A process dying between
  the two leaves the action waiting for the next code rather than spent for nothing. A refusal ends it: the
  user asks again, rather than a later code retrying it when it might no longer be wanted."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from core import pending_actions, two_factor, user_service
from core.db import UnitOfWork
from core.errors import ActionUnavailable, DomainError
from core.pending_actions import Action, Spend
from core.users import UserRecord

from .context import BotContext

# What a fresh code confirms (the kinds of pending action that wait for one), in the user's words.
ADMIN_ACTION, FOLLOW, ADD_BANK, WITHDRAW = "admin_confirm", "follow_code", "bank_add", "withdraw_code"
ORDER_AFTER_UNLOCK = "after_unlock"  # the order to preview once the code has unlocked trading
WORDS = {
    ADMIN_ACTION: "the admin action",
    FOLLOW: "the follow",
    ADD_BANK: "the bank account to add",
    WITHDRAW: "the withdrawal",
    ORDER_AFTER_UNLOCK: "the order",
}
KINDS = tuple(WORDS)


async def ask_for_code(uow: UnitOfWork, user_id: Any, kind: str, payload: dict[str, Any], ttl: timedelta) -> str:
    """What the user's next fresh code is to confirm, in place of whatever waited for one; a line telling what
    that was, if anything (for the top of the prompt)."""
    await user_service.get_user(uow, user_id, lock=True)  # two requests at once: one drops the other's, not neither
    replaced = await drop_waiting(uow, user_id)
    await pending_actions.offer(uow, user_id, kind, payload, ttl)
    return replaced


async def drop_waiting(uow: UnitOfWork, user_id: Any) -> str:
    """Nothing waits for the user's code any more (the next one is to unlock trading); what did, in words."""
    said = sorted({WORDS[k] for k in await pending_actions.withdraw_kinds(uow, user_id, KINDS)})
    return f"(This replaces {' and '.join(said)} that waited for a code.)\n" if said else ""


async def wait_for_code(context: BotContext, user: UserRecord, kind: str, payload: dict[str, Any], prompt: str) -> None:
    """Set the action waiting for the user's next code, and tell them so with the prompt."""
    ttl = timedelta(seconds=context.services.settings.bot_confirm_seconds)
    replaced = await context.services.db.transact(lambda uow: ask_for_code(uow, user.id, kind, payload, ttl))
    await context.bot.send_message(user.telegram_id, replaced + prompt)


async def waiting(context: BotContext, user: UserRecord, kind: str) -> bool:
    return await context.services.db.transact(lambda uow: pending_actions.waiting(uow, user.id, kind), readonly=True)


@contextlib.asynccontextmanager
async def confirmed_by_code(
    context: BotContext, user: UserRecord, kind: str, code: str
) -> AsyncIterator[tuple[Action, Spend]]:
    """The action of this kind the code confirms, not taken yet, and how its effect's transaction takes it. A
    refusal inside ends the action, and is passed on to be explained."""
    await _verified(context, user, code)
    waiting_now = await context.services.db.transact(
        lambda uow: pending_actions.peek_latest(uow, user.id, kind), readonly=True
    )
    if waiting_now is None:
        raise ActionUnavailable("expired")
    async with taken_with_its_effect(context, waiting_now) as spend:
        yield waiting_now, spend


@contextlib.asynccontextmanager
async def taken_with_its_effect(context: BotContext, action: Action) -> AsyncIterator[Spend]:
    """How the transaction of what the action sets off takes it; a refusal inside ends the action, and is passed
    on to be explained."""
    try:
        yield functools.partial(pending_actions.take, token=action.token, user_id=action.user_id, kind=action.kind)
    except DomainError:  # not BrokerUnavailable: "try again shortly" means the code's next try
        await context.services.db.transact(lambda uow: pending_actions.withdraw(uow, action.token, action.user_id))
        raise


async def _verified(context: BotContext, user: UserRecord, code: str) -> None:
    services = context.services
    await two_factor.attempt(
        services.db, lambda uow: two_factor.verify(uow, services.cipher, services.settings, user.id, code)
    )
