"""What an admin's fresh code carries out (asked for in the admin chat: admin.py, admin_money.py): the code is
spent in the transaction that does it, so a process dying between the two leaves it waiting for the admin's next
code, never spent for nothing; a refusal ends it (fresh_code.confirmed_by_code)."""

from __future__ import annotations

import re
from decimal import Decimal
from uuid import UUID

from telegram import Update

from broker import halts
from broker.order_store import all_live_orders
from core import account_reviews, audit, notifications
from core.account_reviews import Review
from core.db import UnitOfWork
from core.errors import BrokerUnavailable, InvalidCommand, NotFound, OrderNotCancellable
from core.limits import Overrides, set_overrides
from core.outbox import Message, publish
from core.pending_actions import Spend, spent_with
from core.users import UserRecord

from ..context import BotContext
from ..fresh_code import ADMIN_ACTION, confirmed_by_code, waiting
from ..render import usd
from . import admin_money

LIMIT_WORDS = {"orders": "orders_per_minute", "notional": "max_order_notional", "withdraw": "withdrawal_daily_limit"}


async def is_waiting(context: BotContext, user: UserRecord) -> bool:
    return await waiting(context, user, ADMIN_ACTION)


async def confirm_with_code(update: Update, context: BotContext, user: UserRecord, code: str) -> None:
    async with confirmed_by_code(context, user, ADMIN_ACTION, code) as (confirmed, spend):
        text = await _carry_out(context, user, confirmed.payload, spend)
    await context.bot.send_message(user.telegram_id, text)


async def _carry_out(context: BotContext, user: UserRecord, payload: dict[str, str], spend: Spend) -> str:
    """The confirmed action carried out, `spend` in its transaction; what to tell the admin."""
    services = context.services
    verb, target, who = payload["verb"], payload["target"], f"admin:{user.id}"
    if verb in ("approve", "reject"):
        reason = payload.get("reason", "")
        record = await services.payments.review(
            UUID(target), approve=verb == "approve", admin=who, reason=reason, spending=spend
        )
        return f"Withdrawal of {usd(record.amount)}: {record.status.value.replace('_', ' ')}."
    if verb in Review.__members__.values():
        reason = payload.get("reason") or "by an admin"
        changed = await services.db.transact(
            spent_with(spend, lambda uow: account_reviews.review(uow, UUID(target), Review(verb), who, reason))
        )
        return f"The account is now {changed.status.value.replace('_', ' ')}."
    if verb.startswith("money_"):
        return await admin_money.carry_out(context, user, payload, spend)
    if verb == "limits":
        overrides = overrides_of(payload["reason"].split(), "")
        await services.db.transact(spent_with(spend, lambda uow: _set_limits(uow, who, UUID(target), overrides)))
        return "Limits set." if any(vars(overrides).values()) else "Limits back to the platform's."
    if verb == "broadcast":
        count = await services.db.transact(spent_with(spend, lambda uow: _broadcast(uow, who, payload["reason"])))
        return f"Broadcast to {count} investor(s)."
    if verb == "cancel_all":
        # Spent first: the cancels are many transactions and messages to IB, never one with the code; a process
        # dying midway leaves the admin to ask again for what is still live.
        await services.db.transact(spend)
        return await _cancel_all(context, who)
    con_id = 0 if target == "all" else int(target)
    await services.db.transact(spent_with(spend, lambda uow: _set_halt(uow, who, con_id, halted=verb == "halt")))
    what = "all trading" if con_id == 0 else f"trading in #{con_id}"
    return f"Halted {what}." if verb == "halt" else f"Resumed {what}."


def overrides_of(words: list[str], usage: str) -> Overrides:
    """`orders=N notional=USD withdraw=USD` as the limits to set."""
    values: dict[str, object] = {}
    for word in words:
        name, _, value = word.partition("=")
        if name not in LIMIT_WORDS or not re.fullmatch(r"\d{1,12}", value):
            raise InvalidCommand(f"I cannot read the limit {word!r}", usage)
        values[LIMIT_WORDS[name]] = int(value) if name == "orders" else Decimal(value)
    return Overrides(**values)  # type: ignore[arg-type]


async def _set_limits(uow: UnitOfWork, who: str, user_id: UUID, overrides: Overrides) -> None:
    await set_overrides(uow, user_id, overrides)
    await audit.record(uow, who, "account.limits", user_id, **{k: v for k, v in vars(overrides).items() if v})


async def _broadcast(uow: UnitOfWork, who: str, text: str) -> int:
    audience = await notifications.audience(uow, "broadcast")
    key = f"broadcast/{uow.ids.new_id()}"
    await publish(
        uow,
        [Message("news.broadcast", f"{key}/{owner}", {"owner_id": str(owner), "text": text, "mode": mode})
         for owner, mode in audience],
    )  # fmt: skip
    await audit.record(uow, who, "news.broadcast", key, audience=len(audience), text=text[:200])
    return len(audience)


async def _cancel_all(context: BotContext, who: str) -> str:
    """Every live order asked to cancel. One that ended meanwhile is passed over; one whose cancel cannot reach IB
    now is recorded all the same, and the router acts on it once the connection is back."""
    broker = context.services.broker
    live = await context.services.db.transact(all_live_orders, readonly=True)
    ended = unsent = 0
    for order in live:
        try:
            _cancelled, block = await broker.trading.cancel_order(order.owner_id, order.id)
            if block is not None:
                await broker.link.cancel_requested(block)
        except (OrderNotCancellable, NotFound):
            ended += 1
        except BrokerUnavailable:
            unsent += 1
    facts = {"count": len(live), "ended": ended, "unsent": unsent}
    await context.services.db.transact(lambda uow: audit.record(uow, who, "orders.cancel_all", "all", **facts))
    text = f"Cancelling {len(live) - ended} open order(s)."
    text += f" {ended} had ended already." if ended else ""
    return text + (f" {unsent} will go to IB once the connection is back." if unsent else "")


async def _set_halt(uow: UnitOfWork, who: str, con_id: int, *, halted: bool) -> None:
    if halted:
        await halts.set_halt(uow, con_id, f"halted by {who}")
    else:
        await halts.clear_halt(uow, con_id)
    await audit.record(uow, who, "trading.halted" if halted else "trading.resumed", con_id or "all")
