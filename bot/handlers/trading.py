"""/buy and /sell: read the order (or ask for what is missing with buttons), make sure trading is unlocked, show a
preview with Confirm and Cancel, and place the order on Confirm. The buttons name a pending action, so a
second tap, an old preview or another user's press places nothing."""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.models import OrderMessage
from broker.order_requests import OrderRequest
from broker.order_states import OrderSide, TimeInForce
from core import pending_actions, two_factor
from core.errors import InsufficientShares, NotTradable, SessionLocked
from core.pending_actions import Spend, spent_with
from core.users import UserRecord
from ledger.accounts import AccountKind, Asset
from ledger.service import open_account

from ..context import BotContext
from ..explain import explain
from ..fresh_code import ORDER_AFTER_UNLOCK, ask_for_code, taken_with_its_effect
from ..order_args import ALL, OrderArgs, parse_order
from ..order_view import STATUS_WORDS, headline, preview_text
from ..render import esc

POPULAR = ("AAPL", "MSFT", "NVDA", "AMZN", "SPY")
QUANTITIES = ("1", "5", "10", "25")


async def buy(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Buy shares: /buy AAPL 10, /buy AAPL 10 limit 189.50, or /buy to be asked."""
    assert user is not None
    await _order(update, context, user, parse_order(OrderSide.BUY, context.args or []))


async def sell(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Sell shares: /sell AAPL 10, /sell AAPL all, or /sell to be asked."""
    assert user is not None
    await _order(update, context, user, parse_order(OrderSide.SELL, context.args or []))


async def on_guided(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """A guided step's button: tg:<side>:<symbol>[:<quantity>]."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    await query.answer()
    _prefix, side, *rest = (query.data or "").split(":")
    words = rest if side in ("buy", "sell") else []
    await _order(update, context, user, parse_order(OrderSide(side), words))


async def after_unlock(update: Update, context: BotContext, user: UserRecord) -> None:
    """Trading was just unlocked: carry on with the order that asked for the code, if one did. It is taken in
    the transaction that offers its preview: a process dying between the two leaves it for the next unlock."""
    services = context.services
    waiting = await services.db.transact(
        lambda uow: pending_actions.peek_latest(uow, user.id, ORDER_AFTER_UNLOCK), readonly=True
    )
    if waiting is not None:
        payload = waiting.payload
        args = OrderArgs(OrderSide(payload["side"]), payload["symbol"], payload["quantity"], payload["limit"])
        async with taken_with_its_effect(context, waiting) as spend:
            await _order(update, context, user, args, spending=spend)


async def on_confirm(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Confirm (oc:<token>) places the previewed order; Cancel (ox:<token>) drops it."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    assert query.message is not None
    services = context.services
    verb, token = (query.data or ":").split(":", 1)
    if verb == "ox":
        await services.db.transact(lambda uow: pending_actions.withdraw(uow, token, user.id))
        await query.answer("Cancelled")
        await query.edit_message_reply_markup(None)
        await context.bot.send_message(user.telegram_id, "Cancelled. Nothing was sent.")
        return
    action = await services.db.transact(lambda uow: pending_actions.peek(uow, token, user.id, "order"), readonly=True)
    payload = action.payload
    request = OrderRequest(
        user.id, f"bot/{token}", payload["symbol"], OrderSide(payload["side"]), payload["quantity"],
        payload["limit"], TimeInForce(payload["tif"]),
    )  # fmt: skip
    # The tap is spent in the order's own transaction: a process dying between the two would leave a confirmed
    # order that never came, and a button that says "already used". The order goes out without waiting for
    # Telegram to take the answer to the tap.
    spend = functools.partial(pending_actions.take, token=token, user_id=user.id, kind="order")
    order, _answered = await asyncio.gather(
        services.broker.trading.place_order(request, spending=spend), query.answer("Sending your order")
    )
    chat_id, message_id = query.message.chat.id, query.message.message_id
    await services.db.transact(lambda uow: _remember(uow, order.id, chat_id, message_id))
    text = headline(order.side, order.quantity, payload["symbol"], order.limit_price)
    await query.edit_message_text(f"{text}\nStatus: {STATUS_WORDS[order.status]}", reply_markup=None)


async def _order(
    update: Update, context: BotContext, user: UserRecord, args: OrderArgs, spending: Spend | None = None
) -> None:
    message = update.effective_message
    assert message is not None
    if args.symbol is None:
        await _ask(context, user, f"Which share would you like to {args.side.value}?", args, POPULAR)
        return
    if args.quantity is None:
        await _ask(context, user, f"How many {esc(args.symbol)} shares?", args, QUANTITIES)
        return
    services = context.services
    try:
        await services.db.transact(lambda uow: two_factor.require_session(uow, user.id), readonly=True)
    except SessionLocked as locked:
        payload = {"side": args.side.value, "symbol": args.symbol, "quantity": args.quantity, "limit": args.limit}
        ttl = timedelta(minutes=5)
        replaced = await services.db.transact(lambda uow: ask_for_code(uow, user.id, ORDER_AFTER_UNLOCK, payload, ttl))
        await context.bot.send_message(user.telegram_id, replaced + explain(locked))
        return
    quantity = await _shares_to_sell(context, user, args.symbol) if args.quantity == ALL else args.quantity
    request = OrderRequest(user.id, "preview", args.symbol, args.side, quantity, args.limit, args.tif)
    preview = await services.broker.trading.preview(request)
    payload = {
        "side": args.side.value,
        "symbol": preview.contract.symbol,
        "quantity": str(preview.quantity),
        "limit": None if preview.limit is None else str(preview.limit),
        "tif": args.tif.value,
    }
    ttl = timedelta(seconds=services.settings.bot_confirm_seconds)
    action = await services.db.transact(
        spent_with(spending, lambda uow: pending_actions.offer(uow, user.id, "order", payload, ttl))
    )
    buttons = [
        InlineKeyboardButton("Confirm", callback_data=f"oc:{action.token}"),
        InlineKeyboardButton("Cancel", callback_data=f"ox:{action.token}"),
    ]
    await context.bot.send_message(
        user.telegram_id, preview_text(preview), reply_markup=InlineKeyboardMarkup([buttons])
    )


async def _ask(context: BotContext, user: UserRecord, question: str, args: OrderArgs, choices: tuple[str, ...]) -> None:
    known = [args.symbol] if args.symbol else []
    rows = [[InlineKeyboardButton(c, callback_data=":".join(["tg", args.side.value, *known, c])) for c in choices]]
    if args.symbol is None:
        question += "\nOr send it in full, such as <code>/buy AAPL 10</code>."
    await context.bot.send_message(user.telegram_id, question, reply_markup=InlineKeyboardMarkup(rows))


async def _shares_to_sell(context: BotContext, user: UserRecord, symbol: str) -> str:
    """`all`: every share of the position that no open sale holds already."""
    contract = await context.services.broker.link.qualify(symbol)
    if contract is None:
        raise NotTradable(symbol, "the broker knows no US stock or ETF by this symbol")
    position = await context.services.db.transact(
        lambda uow: open_account(uow, AccountKind.INVESTOR_POSITION, Asset.instrument(contract.con_id), user.id)
    )
    if position.available <= 0:
        raise InsufficientShares(symbol, Decimal(0), position.available)
    return str(position.available)


async def _remember(uow: Any, order_id: Any, chat_id: int, message_id: int) -> None:
    uow.session.add(OrderMessage(order_id=order_id, chat_id=chat_id, message_id=message_id))
    await uow.session.flush()
