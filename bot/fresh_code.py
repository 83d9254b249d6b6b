"""What waits for a fresh code from the authenticator (a follow, a bank account, a withdrawal, an admin's
action): the next 6-digit code the user sends is checked (counting towards the lockout when wrong) and the
waiting action taken, once."""

from __future__ import annotations

from core import pending_actions, two_factor
from core.errors import ActionUnavailable
from core.pending_actions import Action
from core.users import UserRecord

from .context import BotContext


async def waiting(context: BotContext, user: UserRecord, kind: str) -> bool:
    return await context.services.db.transact(lambda uow: pending_actions.waiting(uow, user.id, kind), readonly=True)


async def take_confirmed(context: BotContext, user: UserRecord, kind: str, code: str) -> Action:
    """The action of this kind the code confirms; the code's refusal, or ActionUnavailable if it expired."""
    services = context.services
    await two_factor.attempt(
        services.db, lambda uow: two_factor.verify(uow, services.cipher, services.settings, user.id, code)
    )
    taken = await services.db.transact(lambda uow: pending_actions.take_latest(uow, user.id, kind))
    if taken is None:
        raise ActionUnavailable("expired")
    return taken
