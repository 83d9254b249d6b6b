"""The investor's order desk: /orders with a Cancel button each, /cancel, /quote and /status."""

from __future__ import annotations

from uuid import UUID

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from broker.order_states import OrderStatus
from broker.order_store import OrderRecord
from core.errors import InvalidCommand, NotFound, NotTradable
from core.users import UserRecord
from ledger.instruments import symbols_of

from ..context import BotContext
from ..order_args import SYMBOL
from ..order_view import STATUS_WORDS, headline
from ..render import esc, shares, usd


async def orders(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Your open orders, each with a Cancel button, and the last few that ended."""
    assert user is not None
    trading = context.services.broker.trading
    live, recent = await trading.open_orders(user.id), await trading.recent_orders(user.id, limit=5)
    ended = [o for o in recent if o.status.is_terminal]
    if not live and not ended:
        await context.bot.send_message(user.telegram_id, "You have no orders yet. Try <code>/buy AAPL 1</code>.")
        return
    con_ids = {order.con_id for order in [*live, *ended]}
    symbols = await context.services.db.transact(lambda uow: symbols_of(uow, con_ids), readonly=True)
    lines, buttons = [], []
    if live:
        lines.append("<b>Open orders</b>")
        for number, order in enumerate(live, 1):
            lines.append(f"{number}. {_describe(order, symbols[order.con_id])}")
            buttons.append([InlineKeyboardButton(f"Cancel {number}", callback_data=f"cx:{order.id}")])
    if ended:
        lines.append("\n<b>Recently ended</b>")
        lines += [f"• {_describe(order, symbols[order.con_id])}" for order in ended]
    markup = InlineKeyboardMarkup(buttons) if buttons else None
    await context.bot.send_message(user.telegram_id, "\n".join(lines), reply_markup=markup)


async def cancel(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """/cancel lists your open orders to cancel; /cancel all cancels every one of them."""
    assert user is not None
    words = [word.lower() for word in context.args or []]
    if not words:
        await orders(update, context, user)
        return
    if words != ["all"]:
        raise InvalidCommand("I can cancel one order by its button, or all of them", "/cancel or /cancel all")
    live = await context.services.broker.trading.open_orders(user.id)
    for order in live:
        await _cancel(context, user, order.id)
    await context.bot.send_message(user.telegram_id, f"Cancelling {len(live)} open order(s).")


async def on_cancel(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """A Cancel button of /orders: cx:<order id>."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    try:
        order_id = UUID((query.data or "").removeprefix("cx:"))
    except ValueError:
        raise NotFound("order", query.data) from None
    await _cancel(context, user, order_id)
    await query.answer("Cancelling")
    await context.bot.send_message(user.telegram_id, "Cancelling your order. I will tell you when it is done.")


async def quote(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Bid, ask, last and the day's change: /quote AAPL."""
    assert user is not None
    words = context.args or []
    symbol = words[0].upper() if len(words) == 1 else ""
    if not SYMBOL.fullmatch(symbol):
        raise InvalidCommand("please name one share", "/quote SYMBOL")
    market = context.services.broker.link
    contract = await market.qualify(symbol)
    if contract is None:
        raise NotTradable(symbol, "the broker knows no US stock or ETF by this symbol")
    now = await market.quote(contract.con_id)
    lines = [f"<b>{esc(contract.symbol)}</b> {esc(contract.description)}"]
    lines += [
        f"{name}: {usd(value)}" for name, value in (("Bid", now.bid), ("Ask", now.ask), ("Last", now.last)) if value
    ]
    if now.last and now.close:
        change = now.last - now.close
        lines.append(f"Day change: {usd(change)} ({change / now.close * 100:+.2f} %)")
    lines.append("Delayed 15 minutes" if now.delayed else "Live")
    await context.bot.send_message(user.telegram_id, "\n".join(lines))


async def status(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """The connection to the broker."""
    assert user is not None
    state = await context.services.broker.link.status()
    lines = [f"Broker connection: <b>{esc(state.state.value)}</b>"]
    if state.connected_since:
        lines.append(f"Connected since {state.connected_since:%Y-%m-%d %H:%M} UTC")
    if state.last_error:
        lines.append(f"Last error: {esc(state.last_error)}")
    lines.append(f"Orders at the broker now: {state.orders_in_flight}")
    await context.bot.send_message(user.telegram_id, "\n".join(lines))


async def _cancel(context: BotContext, user: UserRecord, order_id: UUID) -> None:
    broker = context.services.broker
    _order, block = await broker.trading.cancel_order(user.id, order_id)
    if block is not None:
        await broker.link.cancel_requested(block)


def _describe(order: OrderRecord, symbol: str) -> str:
    state = STATUS_WORDS[order.status]
    if order.status is OrderStatus.PARTIALLY_FILLED:
        state += f" {shares(order.filled_quantity)}/{shares(order.quantity)}"
    price = f" at {usd(order.average_price)}" if order.average_price is not None else ""
    return f"{headline(order.side, order.quantity, symbol, order.limit_price)}: {state}{price}"
