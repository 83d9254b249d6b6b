"""What waits for a fresh code from the authenticator (a follow, a bank account, a withdrawal, an admin's
action): the next 6-digit code the user sends is checked (counting towards the lockout when wrong) and the
waiting action taken, once: here, or (`peek_confirmed`) in the transaction of what it sets off, so that a process
dying between the two leaves the action waiting for the next code rather than spent for nothing."""

from __future__ import annotations

import functools

from core import pending_actions, two_factor
from core.errors import ActionUnavailable
from core.pending_actions import Action, Spend
from core.users import UserRecord

from .context import BotContext


async def waiting(context: BotContext, user: UserRecord, kind: str) -> bool:
    return await context.services.db.transact(lambda uow: pending_actions.waiting(uow, user.id, kind), readonly=True)


async def take_confirmed(context: BotContext, user: UserRecord, kind: str, code: str) -> Action:
    """The action of this kind the code confirms, taken; the code's refusal, or ActionUnavailable if it expired."""
    await _verified(context, user, code)
    taken = await context.services.db.transact(lambda uow: pending_actions.take_latest(uow, user.id, kind))
    if taken is None:
        raise ActionUnavailable("expired")
    return taken


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
