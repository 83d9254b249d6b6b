"""The admin chat (private, admins only): /admin's menu, the withdrawals waiting for a review, reconciliation
breaks, the trading halt and the platform's report. Each action that changes something asks for a fresh code
from the admin's authenticator (the next 6-digit code confirms it: admin_actions), and goes into the audit trail
with the admin's name for it."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from core import user_service
from core.account_reviews import Review
from core.crypto import FieldCipher
from core.db import UnitOfWork
from core.errors import ActionUnavailable, InvalidCommand, NotFound
from core.users import UserRecord

from ..context import BotContext
from ..fresh_code import ADMIN_ACTION, wait_for_code
from ..render import esc
from . import admin_money
from .admin_actions import overrides_of
from .admin_screens import (
    audit_screen,
    breaks_screen,
    broker_screen,
    halt_screen,
    investor_card,
    reconcile_screen,
    report_screen,
    withdrawals_screen,
)

MENU = re.compile(r"ad:(w|b|h|r|k|c|a)")
ACT = re.compile(r"aa:(approve|reject|halt|resume|kyc_approve|unfreeze|cancel_all):([0-9a-f-]{36}|all|\d{1,12})")
SCREENS = {
    "w": withdrawals_screen,
    "b": breaks_screen,
    "h": halt_screen,
    "r": report_screen,
    "k": broker_screen,
    "c": reconcile_screen,
    "a": audit_screen,
}
USER_USAGE = (
    "/user TELEGRAM_ID or EMAIL [kyc_approve | kyc_reject REASON | freeze REASON | unfreeze"
    " | limits orders=N notional=USD withdraw=USD | limits reset]"
)
NEEDS_REASON = (Review.KYC_REJECT, Review.FREEZE)


async def admin(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """The admin menu."""
    assert user is not None
    buttons = [
        [InlineKeyboardButton("Withdrawals to review", callback_data="ad:w")],
        [InlineKeyboardButton("Reconciliation breaks", callback_data="ad:b")],
        [InlineKeyboardButton("Trading halt", callback_data="ad:h")],
        [InlineKeyboardButton("Platform report", callback_data="ad:r")],
        [
            InlineKeyboardButton("Broker", callback_data="ad:k"),
            InlineKeyboardButton("Reconcile now", callback_data="ad:c"),
        ],
        [InlineKeyboardButton("Audit trail", callback_data="ad:a")],
    ]
    await context.bot.send_message(user.telegram_id, "<b>Admin</b>", reply_markup=InlineKeyboardMarkup(buttons))


async def user(update: Update, context: BotContext, admin_user: UserRecord | None) -> None:
    """An investor's account: /user 12345 or /user name@example.com, then what to do with it (a fresh code
    confirms): kyc_approve, kyc_reject REASON, freeze REASON, unfreeze."""
    assert admin_user is not None
    words = context.args or []
    if not words:
        raise InvalidCommand("name the investor", USER_USAGE)
    services = context.services
    found = await services.db.transact(lambda uow: _find(uow, services.cipher, words[0]), readonly=True)
    if found is None:
        raise NotFound("investor", words[0])
    if len(words) > 1 and words[1].lower() == "limits":
        payload = {"verb": "limits", "target": str(found.id), "reason": " ".join(_limits(words[2:]))}
        await wait_for_code(context, admin_user, ADMIN_ACTION, payload, "To set these limits, send a fresh code.")
        return
    if len(words) > 1:
        what = _review(words[1])
        reason = " ".join(words[2:]).strip()
        if what in NEEDS_REASON and not reason:
            raise InvalidCommand("say why: the investor is told", USER_USAGE)
        await wait_for_code(
            context,
            admin_user,
            ADMIN_ACTION,
            {"verb": what.value, "target": str(found.id), "reason": reason},
            f"To {what.value.replace('_', ' ')}, send a fresh code.",
        )
        return
    card, rows = await services.db.transact(lambda uow: investor_card(uow, services.cipher, found, admin_user))
    await context.bot.send_message(
        admin_user.telegram_id, card, reply_markup=InlineKeyboardMarkup(rows) if rows else None
    )


async def money(update: Update, context: BotContext, admin_user: UserRecord | None) -> None:
    """The money desk (see admin_money): suspense and payouts, and what to do with them."""
    assert admin_user is not None
    words = context.args or []
    if not words:
        await context.bot.send_message(admin_user.telegram_id, await admin_money.overview(context))
        return
    payload = admin_money.plan(words)
    await wait_for_code(
        context, admin_user, ADMIN_ACTION, payload, "To carry that out, send a fresh code from your app."
    )


async def broadcast(update: Update, context: BotContext, admin_user: UserRecord | None) -> None:
    """A message to every active investor who has not turned broadcasts off: /broadcast TEXT (a fresh code
    confirms; the notifier paces it within Telegram's limits)."""
    assert admin_user is not None
    text = " ".join(context.args or []).strip()
    if not text:
        raise InvalidCommand("say what to send", "/broadcast TEXT")
    await wait_for_code(
        context,
        admin_user,
        ADMIN_ACTION,
        {"verb": "broadcast", "target": "all", "reason": text[:3000]},
        "To send it to every investor, send a fresh code.",
    )


async def on_menu(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """A menu button: ad:w (withdrawals), ad:b (breaks), ad:h (halt), ad:r (report)."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    found = MENU.fullmatch(query.data or "")
    if found is None:
        raise ActionUnavailable("unknown")
    await query.answer()
    text, rows = await SCREENS[found.group(1)](context)
    markup = InlineKeyboardMarkup(rows) if rows else None
    await context.bot.send_message(user.telegram_id, text, reply_markup=markup)


async def on_action(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """An action's button (aa:<verb>:<id>): it waits for the admin's fresh code."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    found = ACT.fullmatch(query.data or "")
    if found is None:
        raise ActionUnavailable("unknown")
    await query.answer()
    payload = {"verb": found.group(1), "target": found.group(2), "reason": ""}
    await wait_for_code(context, user, ADMIN_ACTION, payload, f"To {found.group(1)}, send a fresh code from your app.")


def _limits(words: list[str]) -> list[str]:
    """`orders=N notional=USD withdraw=USD`, or `reset`: checked now, applied once the code confirms."""
    if words == ["reset"]:
        return []
    overrides_of(words, USER_USAGE)
    return words


def _review(word: str) -> Review:
    try:
        return Review(word.lower())
    except ValueError:
        raise InvalidCommand(f"I cannot {word!r} an account", USER_USAGE) from None


async def _find(uow: UnitOfWork, cipher: FieldCipher, query: str) -> UserRecord | None:
    if query.isdigit():
        return await user_service.find_by_telegram_id(uow, int(query))
    found = await user_service.find_by_email(uow, cipher, query)
    return found[0] if found else None


async def halt(update: Update, context: BotContext, admin_user: UserRecord | None) -> None:
    """Halt or resume one share: /halt AAPL or /halt AAPL off (a fresh code confirms)."""
    assert admin_user is not None
    words = context.args or []
    if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1].lower() != "off"):
        raise InvalidCommand("name one share, and off to resume it", "/halt SYMBOL [off]")
    contract = await context.services.broker.link.qualify(words[0].upper())
    if contract is None:
        raise NotFound("instrument", words[0])
    verb = "resume" if len(words) == 2 else "halt"
    await wait_for_code(
        context,
        admin_user,
        ADMIN_ACTION,
        {"verb": verb, "target": str(contract.con_id), "reason": ""},
        f"To {verb} {esc(contract.symbol)}, send a fresh code.",
    )
