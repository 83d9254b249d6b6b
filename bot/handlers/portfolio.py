"""/portfolio, /pnl, /history (a page at a time, with buttons), /chart and /margin."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from broker import margin_service
from broker.margin import AccountType, MarginFigures, figures
from core.calendar import trade_date
from core.db import UnitOfWork
from core.users import UserRecord
from ledger.flows import daily_flows
from ledger.instruments import symbols_of
from ledger.portfolio import Book, Mark, Valuation, book, equity_curve, record_equity, valuation
from ledger.statement import statement

from .. import charts
from ..context import BotContext
from ..render import esc, shares, usd

HISTORY_PAGE = 8


async def show_portfolio(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Cash, buying power and every position at market, with its P&L."""
    assert user is not None
    now = await _valued(context, user)
    lines = ["<b>Your portfolio</b>", "<pre>"]
    for v in now.holdings:
        price = usd(v.mark.last) if v.mark else "no price"
        average = usd(v.holding.cost_basis / v.holding.quantity)
        lines.append(f"{v.holding.symbol:<6}{shares(v.holding.quantity):>8} @ {price:>10}  avg {average}")
        pct = f" ({v.unrealized_pct:+}%)" if v.unrealized_pct is not None else ""
        day = f"  day {usd(v.day_pnl)}" if v.day_pnl is not None else ""
        lines.append(f"      value {usd(v.value):>12}  P&amp;L {usd(v.unrealized)}{pct}{day}")
    if not now.holdings:
        lines.append("No positions yet.")
    lines.append("</pre>")
    cash = now.book.cash
    settled = cash - now.book.unsettled
    lines.append(f"Cash: {usd(cash)} (settled {usd(settled)}, set aside for orders {usd(now.book.held)})")
    lines.append(f"Positions at market: {usd(now.market_value)}")
    lines.append(f"<b>Equity: {usd(now.equity)}</b>")
    lines.append(f"Unrealized P&amp;L: {usd(now.unrealized)}, today {usd(now.day_pnl)}")
    lines.append(f"Buying power: {usd((await _margin(context, user, now)).buying_power)}")
    await context.bot.send_message(user.telegram_id, "\n".join(lines))


async def pnl(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Realized and unrealized P&L, in all and per position."""
    assert user is not None
    now = await _valued(context, user)
    lines = [
        "<b>Profit and loss</b>",
        f"Realized: {usd(now.realized)}",
        f"Unrealized: {usd(now.unrealized)}",
        f"Today: {usd(now.day_pnl)}",
        f"<b>Total: {usd(now.realized + now.unrealized)}</b>",
    ]
    lines += [
        f"{esc(v.holding.symbol)}: realized {usd(v.holding.realized_pnl)}, unrealized {usd(v.unrealized)}"
        for v in now.holdings
    ]
    await context.bot.send_message(user.telegram_id, "\n".join(lines))


async def history(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Your account's movements, newest first; Older pages by button (hp:<cursor>)."""
    assert user is not None
    query = update.callback_query
    cursor = (query.data or "").removeprefix("hp:") if query is not None else None
    if query is not None:
        await query.answer()
    page = await context.services.db.transact(
        lambda uow: statement(uow, user.id, limit=HISTORY_PAGE, before=cursor or None), readonly=True
    )
    if not page.lines:
        await context.bot.send_message(user.telegram_id, "Nothing has happened on your account yet.")
        return
    con_ids = {c.asset.con_id for line in page.lines for c in line.changes if c.asset.con_id is not None}
    symbols = await context.services.db.transact(lambda uow: symbols_of(uow, con_ids), readonly=True)
    lines = ["<b>History</b>" + (" (older)" if cursor else "")]
    for line in page.lines:
        moves = ", ".join(
            usd(change.amount)
            if change.asset.con_id is None
            else f"{shares(change.amount)} {symbols[change.asset.con_id]}"
            for change in line.changes
        )
        lines.append(
            f"{line.at:%Y-%m-%d %H:%M} {esc(line.kind)}: {esc(moves)}" + (f" ({esc(line.memo)})" if line.memo else "")
        )
    older = [[InlineKeyboardButton("Older", callback_data=f"hp:{page.next_cursor}")]] if page.next_cursor else []
    await context.bot.send_message(
        user.telegram_id, "\n".join(lines), reply_markup=InlineKeyboardMarkup(older) if older else None
    )


async def chart(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Your equity over the year (deposits and withdrawals marked), the daily P&L, the allocation, as an image."""
    assert user is not None
    now = await _valued(context, user)
    since = trade_date(context.services.clock.now()) - timedelta(days=365)

    async def read(uow: UnitOfWork) -> tuple[list[tuple[date, Decimal]], dict[date, Decimal]]:
        flows = {day: amount for day, amount in (await daily_flows(uow, user.id)).items() if day >= since}
        return await equity_curve(uow, user.id, since), flows

    curve, flows = await context.services.db.transact(read, readonly=True)
    image = await charts.render(charts.performance_chart, curve, flows, now)
    await context.bot.send_photo(user.telegram_id, image, caption=f"Equity {usd(now.equity)}")


async def margin(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """The margin calculator on your account now."""
    assert user is not None
    shown = await _margin(context, user, await _valued(context, user))
    kind = "margin" if shown.account_type is AccountType.MARGIN else "cash"
    lines = [
        f"<b>Margin</b> ({kind} account)",
        f"Equity: {usd(shown.equity)}",
        f"Loan: {usd(shown.loan)}",
        f"Initial requirement: {usd(shown.initial_requirement)}",
        f"Maintenance requirement: {usd(shown.maintenance_requirement)}",
        f"Excess liquidity: {usd(shown.excess_liquidity)}",
        f"Buying power: {usd(shown.buying_power)}",
        f"Margin usage: {shown.margin_usage * 100:.1f} %",
    ]
    if shown.maintenance_breach:
        lines.append("<b>Below maintenance:</b> deposit cash or sell shares.")
    await context.bot.send_message(user.telegram_id, "\n".join(lines))


async def _valued(context: BotContext, user: UserRecord) -> Valuation:
    services = context.services
    today = trade_date(services.clock.now())
    held: Book = await services.db.transact(lambda uow: book(uow, user.id, today), readonly=True)
    market = services.broker.link
    quotes = await asyncio.gather(*(market.quote(h.con_id) for h in held.holdings))
    marks = {
        h.con_id: Mark(q.last or q.close or Decimal(0), q.close)
        for h, q in zip(held.holdings, quotes, strict=True)
        if q.last or q.close
    }
    now = valuation(held, marks)
    # Each valuation is the day's point of the equity curve (until a daily job values every account).
    await services.db.transact(lambda uow: record_equity(uow, user.id, today, now.equity))
    return now


async def _margin(context: BotContext, user: UserRecord, now: Valuation) -> MarginFigures:
    """The margin calculator's figures for the account, its positions at the prices just fetched."""
    services = context.services
    marks = {v.holding.con_id: v.mark.last for v in now.holdings if v.mark}

    async def read(uow: UnitOfWork) -> MarginFigures:
        policy = await margin_service.policy(uow, services.settings)
        return figures(await margin_service.margin_account(uow, user.id, marks), policy)

    return await services.db.transact(read, readonly=True)
