"""Leading and choosing whom to follow: /lead, /leaders (sorted, filtered, a page at a time, by buttons) and
/leader ALIAS (the card: statistics and the equity chart, with Follow buttons)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from copytrade import board, leaders, stats
from copytrade.board import Ranking
from copytrade.store import LeaderRecord
from core.calendar import trade_date
from core.db import UnitOfWork
from core.errors import CopyRefused, InvalidCommand
from core.users import UserRecord

from .. import charts
from ..context import BotContext
from ..copy_view import board_line, leader_card
from ..follow_args import ALIAS_WORD
from ..render import esc

LEAD_USAGE = "/lead ALIAS [PROFIT_SHARE%] [a few words on how you trade]"
PAGE = 5
RISKS = {"7": "All risks", "3": "Risk up to 3", "5": "Risk up to 5"}
RECORDS = {"0": "Any record", "30": "30+ days", "90": "90+ days"}
BOARD = re.compile(r"lb:([a-z]+):([1-7]):(\d{1,3}):(\d{1,3})")


async def lead(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Become a leader others can follow: /lead Ada 10 Long-only US large caps."""
    assert user is not None
    words = context.args or []
    if not words or not ALIAS_WORD.fullmatch(words[0]):
        raise InvalidCommand("choose a public alias", LEAD_USAGE)
    share, rest = Decimal(0), words[1:]
    if rest and re.fullmatch(r"\d{1,2}(\.\d{1,2})?%?", rest[0]):
        share, rest = Decimal(rest[0].rstrip("%")), rest[1:]
    services = context.services
    leader = await services.db.transact(
        lambda uow: leaders.become_leader(uow, services.settings, user.id, words[0], " ".join(rest), share)
    )
    state = "is live: investors can follow you now" if leader.status.value == "active" else "waits for approval"
    await context.bot.send_message(user.telegram_id, f"Your leader profile <b>{esc(leader.alias)}</b> {state}.")


async def show_leaders(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """The leaderboard: /leaders, then buttons to sort, filter and turn pages (lb:<sort>:<risk>:<days>:<page>)."""
    assert user is not None
    query = update.callback_query
    found = BOARD.fullmatch(query.data or "") if query is not None else None
    if query is not None:
        await query.answer()
        if found is None:
            raise CopyRefused("that leaderboard button is no longer valid")
    sort, risk, days, page = found.groups() if found else ((context.args or ["return"])[0].lower(), "7", "0", "0")
    if sort not in Ranking.__members__.values():
        raise InvalidCommand(f"I cannot sort by {sort!r}", "/leaders [return|drawdown|risk|followers]")
    services = context.services
    today = trade_date(services.clock.now())
    entries = await services.db.transact(lambda uow: board.leaderboard(uow, today), readonly=True)
    ranked = board.rank(entries, Ranking(sort), max_risk=int(risk), min_days=int(days))
    number = int(page)
    shown = ranked[number * PAGE : (number + 1) * PAGE]
    lines = [f"<b>Leaders</b> by {sort} ({RISKS.get(risk, risk)}, {RECORDS.get(days, days)})"]
    lines += [board_line(number * PAGE + i + 1, e) for i, e in enumerate(shown)] or ["No leader fits these filters."]
    lines.append("Tap a name for the card, or send /leader ALIAS.")
    rows = [[InlineKeyboardButton(e.leader.alias, callback_data=f"lc:{e.leader.alias}") for e in shown]]
    rows.append([_board(r.value.title(), r.value, risk, days, 0) for r in Ranking])
    rows.append([_board(label, sort, value, days, 0) for value, label in RISKS.items()])
    rows.append([_board(label, sort, risk, value, 0) for value, label in RECORDS.items()])
    pages = [_board("Previous", sort, risk, days, number - 1)] if number else []
    pages += [_board("Next", sort, risk, days, number + 1)] if len(ranked) > (number + 1) * PAGE else []
    rows.append(pages)
    markup = InlineKeyboardMarkup([row for row in rows if row])
    await context.bot.send_message(user.telegram_id, "\n".join(lines), reply_markup=markup)


async def show_leader(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """A leader's card: /leader ALIAS, or a name's button on the leaderboard (lc:<alias>)."""
    assert user is not None
    query = update.callback_query
    if query is not None:
        await query.answer()
    alias = (query.data or "").removeprefix("lc:") if query is not None else " ".join(context.args or [])
    if not alias:
        raise InvalidCommand("name the leader", "/leader ALIAS")
    services = context.services
    today = trade_date(services.clock.now())

    async def read(uow: UnitOfWork) -> tuple[LeaderRecord, stats.LeaderStats, list[tuple[date, Decimal]]]:
        leader = await leaders.active_leader(uow, alias)
        figures = await board.statistics(uow, leader, today)
        return leader, figures, stats.unit_values(await board.daily_equity(uow, leader.user_id))

    leader, figures, units = await services.db.transact(read, readonly=True)
    image = await charts.render(charts.leader_chart, leader.alias, units)
    buttons = [
        InlineKeyboardButton("Follow for alerts", callback_data=f"fs:{leader.alias}:a"),
        InlineKeyboardButton("Copy trades", callback_data=f"fs:{leader.alias}:c"),
    ]
    caption = leader_card(leader, figures)
    await context.bot.send_photo(user.telegram_id, image, caption=caption, reply_markup=InlineKeyboardMarkup([buttons]))


def _board(label: str, sort: str, risk: str, days: str, page: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=f"lb:{sort}:{risk}:{days}:{page}")
