"""/card: a P&L card image, for a closed position (/card AAPL) or a copy of a leader (/card ALIAS), to keep or
share. It shows results, never an amount held or an account's size beyond the position's own figures."""

from __future__ import annotations

from decimal import Decimal

from telegram import Update

from broker.market_data import last_prices
from broker.position_history import PositionHistory, position_history
from copytrade import store as copy_store
from copytrade.store import CopyRecord
from copytrade.terms import CopyMode
from core.errors import InvalidCommand, NotTradable
from core.users import UserRecord
from ledger.sleeves import sleeve_books

from .. import charts
from ..context import BotContext
from ..render import shares, usd

USAGE = "/card SYMBOL (a closed position) or /card ALIAS (a copy)"


async def card(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """A P&L card: /card AAPL for a position you closed, /card ALIAS for your copy of a leader."""
    assert user is not None
    words = context.args or []
    if len(words) != 1:
        raise InvalidCommand("name one position or one leader", USAGE)
    services = context.services
    copies = await services.broker.copies.following(user.id)
    leader = await services.db.transact(lambda uow: copy_store.leader_by_alias(uow, words[0]), readonly=True)
    copy = next((c for c in copies if leader is not None and c.leader_id == leader.user_id), None)
    if leader is not None and copy is not None and copy.mode is CopyMode.COPY:
        await _copy_card(context, user, leader.alias, copy)
        return
    contract = await services.broker.link.qualify(words[0])
    if contract is None:
        raise NotTradable(words[0], "no leader you copy and no share goes by this name")
    history = await services.db.transact(lambda uow: position_history(uow, user.id, contract.con_id), readonly=True)
    if not history.closed:
        text = (
            f"You hold {shares(history.held)} {contract.symbol} now: a card is for a position you have closed. "
            "/portfolio shows it at market."
            if history.held
            else f"You have not traded {contract.symbol} yet."
        )
        await context.bot.send_message(user.telegram_id, text)
        return
    image = await charts.render(charts.pnl_card, *_closed(contract.symbol, history))
    await context.bot.send_photo(user.telegram_id, image, caption=f"{contract.symbol}: {usd(history.realized)}")


async def _copy_card(context: BotContext, user: UserRecord, alias: str, copy: CopyRecord) -> None:
    services = context.services
    books = await services.db.transact(lambda uow: sleeve_books(uow, [copy.id]), readonly=True)
    prices = await last_prices(services.broker.link, books[copy.id].shares)
    if set(books[copy.id].shares) - set(prices):  # a holding valued at nothing would show a false loss
        await context.bot.send_message(
            user.telegram_id, "The broker cannot price all of this copy now: try again soon."
        )
        return
    value = books[copy.id].equity(prices)
    pnl = value - copy.invested
    pct = pnl / copy.invested * 100 if copy.invested else None
    rows = [("Put in", usd(copy.invested)), ("Worth now", usd(value)), ("Status", copy.status.value)]
    since = f"Copying {alias} since {copy.created_at:%Y-%m-%d}"
    image = await charts.render(charts.pnl_card, f"Copy of {alias}", since, pnl, pct, rows)
    await context.bot.send_photo(user.telegram_id, image, caption=f"Your copy of {alias}: {usd(pnl)}")


def _closed(symbol: str, history: PositionHistory) -> tuple[str, str, Decimal, Decimal | None, list[tuple[str, str]]]:
    assert history.first_buy is not None
    assert history.last_sale is not None
    days = (history.last_sale - history.first_buy).days
    held = f"Bought {history.first_buy:%Y-%m-%d}, last sold {history.last_sale:%Y-%m-%d} ({days} days)"
    rows = [("Shares", shares(history.sold)), ("Commissions", usd(history.commissions))]
    if history.average_buy is not None:
        rows.insert(1, ("Average buy", usd(history.average_buy)))
    if history.average_sale is not None:
        rows.insert(2, ("Average sale", usd(history.average_sale)))
    return f"{symbol} closed", held, history.realized, history.return_pct, rows
