"""The one command table: it generates the handlers, /help and the command menu Telegram shows."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import BotCommand, Update

from core.users import UserRecord

from .access import Access, allows
from .context import BotContext
from .guard import Handler
from .handlers import (
    admin,
    banking,
    cards,
    desk,
    following,
    leading,
    onboarding,
    portfolio,
    preferences,
    price_watch,
    security,
    statements,
    trading,
)
from .render import esc


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # for the menu and /help: short, in the investor's words
    handler: Handler
    access: Access


async def show_help(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """What this user can do now."""
    assert update.effective_message is not None
    lines = ["<b>What I can do for you</b>"]
    lines += [f"/{c.name} - {esc(c.description)}" for c in COMMANDS if allows(c.access, user)]
    if user is None:
        lines.append("\nStart with /start to open your account.")
    await update.effective_message.reply_text("\n".join(lines))


COMMANDS: tuple[Command, ...] = (
    Command("start", "Open your account, or carry on where you stopped", onboarding.start, Access.ANYONE),
    Command("help", "What I can do for you", show_help, Access.ANYONE),
    Command("profile", "Your details and account status", onboarding.profile, Access.MEMBER),
    Command("2fa", "Set up two-factor authentication", security.enrol, Access.MEMBER),
    Command("unlock", "Unlock trading with a code: /unlock 123456", security.unlock, Access.MEMBER),
    Command("lock", "Lock trading now", security.lock, Access.MEMBER),
    Command("buy", "Buy shares: /buy AAPL 10, or /buy AAPL 10 limit 189.50", trading.buy, Access.INVESTOR),
    Command("sell", "Sell shares: /sell AAPL 10, or /sell AAPL all", trading.sell, Access.INVESTOR),
    Command("orders", "Your open and recent orders, to cancel", desk.orders, Access.INVESTOR),
    Command("cancel", "Cancel an open order, or /cancel all", desk.cancel, Access.INVESTOR),
    Command("quote", "A share's price now: /quote AAPL", desk.quote, Access.INVESTOR),
    Command("portfolio", "Your cash, positions and P&L at market", portfolio.show_portfolio, Access.INVESTOR),
    Command("pnl", "Profit and loss, realized and unrealized", portfolio.pnl, Access.INVESTOR),
    Command("history", "Your account's movements, newest first", portfolio.history, Access.INVESTOR),
    Command("chart", "Your equity, daily P&L and allocation as a picture", portfolio.chart, Access.INVESTOR),
    Command("card", "A P&L card: /card AAPL (closed), /card ALIAS (a copy)", cards.card, Access.INVESTOR),
    Command("statement", "Your monthly statement as a PDF: /statement 2026-10", statements.statement, Access.INVESTOR),
    Command("export", "Your transactions as a CSV file: /export 2026", statements.export, Access.INVESTOR),
    Command("margin", "Margin: equity, requirements, buying power", portfolio.margin, Access.INVESTOR),
    Command("status", "The connection to the broker", desk.status, Access.INVESTOR),
    Command("alert", "A price alert: /alert AAPL above 200, or move 5%", price_watch.alert, Access.INVESTOR),
    Command("alerts", "Your alerts, stops and targets, to delete", price_watch.show_alerts, Access.INVESTOR),
    Command("stop", "Sell if the price falls to a level: /stop AAPL 170", price_watch.stop, Access.INVESTOR),
    Command("target", "Sell if the price rises to a level: /target AAPL 220", price_watch.target, Access.INVESTOR),
    Command("leaders", "Leaders you can follow, best first", leading.show_leaders, Access.INVESTOR),
    Command("leader", "A leader's card: /leader ALIAS", leading.show_leader, Access.INVESTOR),
    Command("follow", "Follow a leader: alerts, or copy their trades", following.follow, Access.INVESTOR),
    Command("following", "Whom you follow: pause, stop, sell", following.show_following, Access.INVESTOR),
    Command("copyedit", "Change a copy: /copyedit ALIAS sl 20 tp 50", following.copyedit, Access.INVESTOR),
    Command("lead", "Let others follow you: /lead ALIAS [SHARE%] [about you]", leading.lead, Access.INVESTOR),
    Command("deposit", "Pay money in: /deposit 1000", banking.deposit, Access.INVESTOR),
    Command("withdraw", "Take money out to your bank: /withdraw 500", banking.withdraw, Access.INVESTOR),
    Command("withdrawals", "Your withdrawals, to follow or cancel", banking.show_withdrawals, Access.INVESTOR),
    Command("bank", "Your bank accounts: /bank add IBAN", banking.bank, Access.INVESTOR),
    Command("notifications", "What you hear of: /notifications broadcast off", preferences.show, Access.MEMBER),
    Command("admin", "The admin menu (admins, in a private chat)", admin.admin, Access.ADMIN),
    Command("broadcast", "A message to every investor: /broadcast TEXT", admin.broadcast, Access.ADMIN),
    Command("user", "An investor's account: /user TELEGRAM_ID or EMAIL", admin.user, Access.ADMIN),
    Command("halt", "Halt or resume one share: /halt AAPL [off]", admin.halt, Access.ADMIN),
    Command("money", "Deposits in suspense, payouts for the bank", admin.money, Access.ADMIN),
)


def menu() -> list[BotCommand]:
    """The menu Telegram shows next to the message box (everyone sees the same one)."""
    return [BotCommand(command.name, command.description[:256]) for command in COMMANDS]
