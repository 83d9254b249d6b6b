"""The admin chat (private, admins only): /admin's menu, the withdrawals waiting for a review, reconciliation
breaks, the trading halt and the platform's report. Each action that changes something asks for a fresh code
from the admin's authenticator (the next 6-digit code confirms it, security.on_code), and goes into the audit
trail with the admin's name for it."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from broker import halts
from core import account_reviews, audit, pending_actions, two_factor, user_service
from core.account_reviews import Review
from core.crypto import FieldCipher
from core.db import UnitOfWork
from core.errors import ActionUnavailable, InvalidCommand, NotFound
from core.models import User
from core.users import UserRecord, UserStatus
from ledger.accounts import AccountKind, Asset
from ledger.reconciliation import open_breaks
from ledger.service import open_account
from ledger.store import ACCOUNTS
from payments import funding, withdrawals
from payments.states import WithdrawalStatus

from ..context import BotContext
from ..render import esc, usd

CONFIRM = "admin_confirm"
MENU = re.compile(r"ad:(w|b|h|r)")
ACT = re.compile(r"aa:(approve|reject|halt|resume|kyc_approve|unfreeze):([0-9a-f-]{36}|all)")
USER_USAGE = "/user TELEGRAM_ID or EMAIL [kyc_approve | kyc_reject REASON | freeze REASON | unfreeze]"
NEEDS_REASON = (Review.KYC_REJECT, Review.FREEZE)


async def admin(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """The admin menu."""
    assert user is not None
    buttons = [
        [InlineKeyboardButton("Withdrawals to review", callback_data="ad:w")],
        [InlineKeyboardButton("Reconciliation breaks", callback_data="ad:b")],
        [InlineKeyboardButton("Trading halt", callback_data="ad:h")],
        [InlineKeyboardButton("Platform report", callback_data="ad:r")],
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
    if len(words) > 1:
        what = _review(words[1])
        reason = " ".join(words[2:]).strip()
        if what in NEEDS_REASON and not reason:
            raise InvalidCommand("say why: the investor is told", USER_USAGE)
        await _wait_for_code(context, admin_user, {"verb": what.value, "target": str(found.id), "reason": reason})
        await context.bot.send_message(admin_user.telegram_id, f"To {what.value.replace('_', ' ')}, send a fresh code.")
        return
    card, rows = await services.db.transact(lambda uow: _card(uow, services.cipher, found, admin_user))
    await context.bot.send_message(
        admin_user.telegram_id, card, reply_markup=InlineKeyboardMarkup(rows) if rows else None
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
    text, rows = await {"w": _withdrawals, "b": _breaks, "h": _halt, "r": _report}[found.group(1)](context)
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
    await _wait_for_code(context, user, {"verb": found.group(1), "target": found.group(2), "reason": ""})
    await query.answer()
    await context.bot.send_message(user.telegram_id, f"To {found.group(1)}, send a fresh code from your app.")


async def is_waiting(context: BotContext, user: UserRecord) -> bool:
    return await context.services.db.transact(lambda uow: pending_actions.waiting(uow, user.id, CONFIRM), readonly=True)


async def confirm_with_code(update: Update, context: BotContext, user: UserRecord, code: str) -> None:
    services = context.services
    await two_factor.attempt(
        services.db, lambda uow: two_factor.verify(uow, services.cipher, services.settings, user.id, code)
    )
    waiting = await services.db.transact(lambda uow: pending_actions.take_latest(uow, user.id, CONFIRM))
    if waiting is None:
        raise ActionUnavailable("expired")
    verb, target, who = waiting.payload["verb"], waiting.payload["target"], f"admin:{user.id}"
    if verb in ("approve", "reject"):
        record = await services.payments.review(UUID(target), approve=verb == "approve", admin=who)
        text = f"Withdrawal of {usd(record.amount)}: {record.status.value.replace('_', ' ')}."
    elif verb in Review.__members__.values():
        reason = waiting.payload.get("reason") or "by an admin"
        changed = await services.db.transact(
            lambda uow: account_reviews.review(uow, UUID(target), Review(verb), who, reason)
        )
        text = f"The account is now {changed.status.value.replace('_', ' ')}."
    else:
        await services.db.transact(lambda uow: _set_halt(uow, who, halted=verb == "halt"))
        text = "Trading is halted." if verb == "halt" else "Trading has resumed."
    await context.bot.send_message(user.telegram_id, text)


async def _wait_for_code(context: BotContext, admin_user: UserRecord, payload: dict[str, str]) -> None:
    ttl = timedelta(seconds=context.services.settings.bot_confirm_seconds)
    await context.services.db.transact(lambda uow: pending_actions.offer(uow, admin_user.id, CONFIRM, payload, ttl))


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


async def _card(
    uow: UnitOfWork, cipher: FieldCipher, found: UserRecord, admin_user: UserRecord
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    person = await user_service.read_personal_data(uow, cipher, found.id)
    cash = (await open_account(uow, AccountKind.INVESTOR_CASH, Asset.cash(), found.id)).balance
    enrolled = await two_factor.is_enrolled(uow, found.id)
    await audit.record(uow, f"admin:{admin_user.id}", "account.viewed", found.id)  # personal data was shown
    lines = [
        f"<b>{esc(person.full_name or 'no name yet')}</b> (Telegram {found.telegram_id})",
        f"Status: {found.status.value.replace('_', ' ')}, role: {found.role.value}",
        f"Email: {esc(person.email or '-')}, country: {esc(person.country or '-')}",
        f"Since {found.created_at:%Y-%m-%d}; two-factor {'on' if enrolled else 'off'}; cash {usd(cash)}",
    ]
    buttons = []
    if found.status is UserStatus.PENDING_KYC:
        buttons.append(InlineKeyboardButton("Approve KYC", callback_data=f"aa:kyc_approve:{found.id}"))
        lines.append(f"To reject: <code>/user {found.telegram_id} kyc_reject REASON</code>")
    elif found.status is UserStatus.FROZEN:
        buttons.append(InlineKeyboardButton("Unfreeze", callback_data=f"aa:unfreeze:{found.id}"))
    elif found.status is UserStatus.ACTIVE:
        lines.append(f"To freeze: <code>/user {found.telegram_id} freeze REASON</code>")
    return "\n".join(lines), [buttons] if buttons else []


async def _set_halt(uow: UnitOfWork, who: str, *, halted: bool) -> None:
    if halted:
        await halts.set_halt(uow, halts.KILL_SWITCH, f"halted by {who}")
    else:
        await halts.clear_halt(uow, halts.KILL_SWITCH)
    await audit.record(uow, who, "trading.halted" if halted else "trading.resumed", "all")


async def _withdrawals(context: BotContext) -> tuple[str, list[list[InlineKeyboardButton]]]:
    waiting = await context.services.db.transact(
        lambda uow: withdrawals.in_status(uow, WithdrawalStatus.PENDING_REVIEW), readonly=True
    )
    if not waiting:
        return "No withdrawal waits for a review.", []
    lines = ["<b>Withdrawals to review</b>"]
    rows = []
    for number, record in enumerate(waiting, 1):
        lines.append(f"{number}. {usd(record.amount)} from {esc(record.owner_id)} ({record.created_at:%Y-%m-%d %H:%M})")
        rows.append([
            InlineKeyboardButton(f"Approve {number}", callback_data=f"aa:approve:{record.id}"),
            InlineKeyboardButton(f"Reject {number}", callback_data=f"aa:reject:{record.id}"),
        ])  # fmt: skip
    return "\n".join(lines), rows


async def _breaks(context: BotContext) -> tuple[str, list[list[InlineKeyboardButton]]]:
    found = await context.services.db.transact(open_breaks, readonly=True)
    if not found:
        return "No reconciliation break is open.", []
    now = context.services.clock.now()
    lines = ["<b>Open breaks</b>"] + [
        f"• {esc(b.kind)} {esc(b.key)}: {esc(b.note)} (for {_age(now - b.first_seen)})" for b in found
    ]
    return "\n".join(lines), []


async def _halt(context: BotContext) -> tuple[str, list[list[InlineKeyboardButton]]]:
    stopped = await context.services.db.transact(lambda uow: halts.halts_for(uow, -1), readonly=True)
    if stopped:
        reason = stopped[0][1]
        return f"Trading is halted: {esc(reason)}.", [[InlineKeyboardButton("Resume", callback_data="aa:resume:all")]]
    return "Trading is open.", [[InlineKeyboardButton("Halt all trading", callback_data="aa:halt:all")]]


async def _report(context: BotContext) -> tuple[str, list[list[InlineKeyboardButton]]]:
    async def read(uow: UnitOfWork) -> str:
        users = dict(
            (await uow.connection.execute(select(User.status, func.count()).group_by(User.status))).tuples().all()
        )
        cash = await _sum(uow, AccountKind.INVESTOR_CASH)
        positions = await funding.cash_positions(uow)
        income = await _sum(uow, AccountKind.HOUSE_FEES) + await _sum(uow, AccountKind.HOUSE_COMMISSIONS)
        people = ", ".join(
            f"{count} {getattr(status, 'value', status)}" for status, count in sorted(users.items(), key=str)
        )
        return "\n".join([
            "<b>Platform report</b>",
            f"Users: {esc(people) or 'none'}",
            f"Investors' cash: {usd(cash)}",
            f"Cash at the bank: {usd(positions.at_bank)}, at IB: {usd(positions.at_ib)}",
            f"In transit to IB: {usd(positions.in_transit.to_ib)}, from IB: {usd(positions.in_transit.from_ib)}",
            f"House income: {usd(income)}",
        ])  # fmt: skip

    return await context.services.db.transact(read, readonly=True), []


async def _sum(uow: UnitOfWork, kind: AccountKind) -> Decimal:
    query = select(func.coalesce(func.sum(ACCOUNTS.c.balance), 0)).where(ACCOUNTS.c.kind == kind.value)
    return Decimal(await uow.connection.scalar(query) or 0)


def _age(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
