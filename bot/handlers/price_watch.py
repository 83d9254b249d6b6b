"""/alert, /alerts, /stop and /target: price alerts, and protective orders on a position.

A stop or a target sells without asking again when it is hit, so it is set like an order: with trading unlocked,
from a preview the investor confirms (their consent, kept in the audit trail). The buttons name a pending action
(pc:/px:), or for Delete (aw:) an alert of the presser's own."""

from __future__ import annotations

import functools
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from alerts.desk import Watching
from alerts.models import ProtectKind
from core import pending_actions, two_factor
from core.errors import ActionUnavailable
from core.users import UserRecord

from ..alert_args import parse_alert, parse_protect
from ..alert_view import alert_line, protective_line
from ..context import BotContext
from ..render import esc, shares, usd

NONE_YET = (
    "You have no alerts. Set one with <code>/alert AAPL above 200</code>, <code>/alert AAPL move 5% repeat</code>; "
    "protect a position with <code>/stop AAPL 170</code> or <code>/target AAPL 220</code>."
)


async def alert(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Set a price alert: /alert AAPL above 200, /alert AAPL below 150 repeat, /alert AAPL move 5%."""
    assert user is not None
    args = parse_alert(context.args or [])
    desk = context.services.broker.alerts
    made = await desk.add_alert(
        user.id, args.symbol, args.condition, args.level, repeat=args.repeat, cooldown=args.cooldown
    )
    await context.bot.send_message(user.telegram_id, f"Alert set: {alert_line(made)}. /alerts shows yours.")


async def show_alerts(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Your price alerts, stops and targets, each with Delete (aw:<id>)."""
    assert user is not None
    query = update.callback_query
    if query is not None:
        await context.services.broker.alerts.delete(user.id, _id(query.data or ""))
        await query.answer("Deleted")
    text, rows = _listing(await context.services.broker.alerts.watching(user.id))
    markup = InlineKeyboardMarkup(rows) if rows else None
    if query is not None and query.message is not None:
        await query.edit_message_text(text, reply_markup=markup)
    else:
        await context.bot.send_message(user.telegram_id, text, reply_markup=markup)


async def stop(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Sell a position at market if the price falls to a level: /stop AAPL 170 [QUANTITY]."""
    assert user is not None
    await _preview(context, user, ProtectKind.STOP, context.args or [])


async def target(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Sell a position at market if the price rises to a level: /target AAPL 220 [QUANTITY]."""
    assert user is not None
    await _preview(context, user, ProtectKind.TARGET, context.args or [])


async def on_confirm(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Confirm (pc:<token>) sets the previewed stop or target, checked again at today's price; Cancel (px:)."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    services = context.services
    verb, token = (query.data or ":").split(":", 1)
    if verb == "px":
        await services.db.transact(lambda uow: pending_actions.withdraw(uow, token, user.id))
        await query.answer("Cancelled")
        await query.edit_message_text("Cancelled. Nothing was set.", reply_markup=None)
        return
    action = await services.db.transact(lambda uow: pending_actions.peek(uow, token, user.id, "protect"), readonly=True)
    payload = action.payload
    quantity = None if payload["quantity"] is None else Decimal(payload["quantity"])
    desk = services.broker.alerts
    order, _shares, _price = await desk.check_protective(
        user.id, payload["symbol"], ProtectKind(payload["kind"]), Decimal(payload["trigger"]), quantity
    )
    await desk.set_protective(
        order, spending=functools.partial(pending_actions.take, token=token, user_id=user.id, kind="protect")
    )
    await query.answer("Set")
    await query.edit_message_text(f"Set. {protective_line(order)}. /alerts shows yours.", reply_markup=None)


async def _preview(context: BotContext, user: UserRecord, kind: ProtectKind, words: list[str]) -> None:
    args = parse_protect(kind, words)
    services = context.services
    await services.db.transact(lambda uow: two_factor.require_session(uow, user.id), readonly=True)
    order, quantity, price = await services.broker.alerts.check_protective(
        user.id, args.symbol, kind, args.trigger, args.quantity
    )
    payload = {"symbol": order.symbol, "kind": kind.value, "trigger": str(order.trigger), "quantity": None}
    if args.quantity is not None:
        payload["quantity"] = str(args.quantity)
    ttl = timedelta(seconds=services.settings.bot_confirm_seconds)
    action = await services.db.transact(lambda uow: pending_actions.offer(uow, user.id, "protect", payload, ttl))
    amount = f"{shares(quantity)} shares" + (" (all you hold then)" if args.quantity is None else "")
    when = "falls to" if kind is ProtectKind.STOP else "rises to"
    text = "\n".join([
        f"<b>{kind.value.title()} on {esc(order.symbol)}</b> (now {usd(price)})",
        f"When the price {when} {usd(order.trigger)}, sell {amount} at market, without asking you again.",
        "A market sale fills at the next price, which in a fast market can be well past the trigger.",
        f"It replaces any {kind.value} you set on {esc(order.symbol)} before; when a stop or a target sells, "
        "the other is cancelled.",
    ])  # fmt: skip
    buttons = [
        InlineKeyboardButton("Confirm", callback_data=f"pc:{action.token}"),
        InlineKeyboardButton("Cancel", callback_data=f"px:{action.token}"),
    ]
    await context.bot.send_message(user.telegram_id, text, reply_markup=InlineKeyboardMarkup([buttons]))


def _listing(watching: Watching) -> tuple[str, list[list[InlineKeyboardButton]]]:
    items = [(a.id, alert_line(a)) for a in watching.alerts] + [(o.id, protective_line(o)) for o in watching.protective]
    if not items:
        return NONE_YET, []
    lines = ["<b>Your alerts</b>"] + [f"{number}. {line}" for number, (_id, line) in enumerate(items, 1)]
    buttons = [InlineKeyboardButton(f"Delete {n}", callback_data=f"aw:{item}") for n, (item, _) in enumerate(items, 1)]
    return "\n".join(lines), [buttons[start : start + 4] for start in range(0, len(buttons), 4)]


def _id(data: str) -> UUID:
    try:
        return UUID(data.removeprefix("aw:"))
    except ValueError:
        raise ActionUnavailable("unknown") from None
