"""The admin chat's screens: what an admin reads (the withdrawals to review, the breaks, the halt, the broker,
the report, an investor's card, the audit log), each with the buttons that act on it (bot/handlers/admin.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from telegram import InlineKeyboardButton

from broker import halts
from core import audit, two_factor, user_service
from core.crypto import FieldCipher
from core.db import UnitOfWork
from core.models import User
from core.users import UserRecord, UserStatus
from ledger.accounts import AccountKind, Asset
from ledger.instruments import symbols_of
from ledger.reconciliation import open_breaks
from ledger.service import open_account
from ledger.store import ACCOUNTS
from payments import funding, withdrawals
from payments.states import WithdrawalStatus

from ..context import BotContext
from ..render import esc, shares, usd

Screen = tuple[str, list[list[InlineKeyboardButton]]]


async def withdrawals_screen(context: BotContext) -> Screen:
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


async def breaks_screen(context: BotContext) -> Screen:
    found = await context.services.db.transact(open_breaks, readonly=True)
    if not found:
        return "No reconciliation break is open.", []
    now = context.services.clock.now()
    lines = ["<b>Open breaks</b>"] + [
        f"• {esc(b.kind)} {esc(b.key)}: {esc(b.note)} (for {_age(now - b.first_seen)})" for b in found
    ]
    return "\n".join(lines), []


async def halt_screen(context: BotContext) -> Screen:
    stopped = await context.services.db.transact(lambda uow: halts.halts_for(uow, -1), readonly=True)
    if stopped:
        reason = stopped[0][1]
        return f"Trading is halted: {esc(reason)}.", [[InlineKeyboardButton("Resume", callback_data="aa:resume:all")]]
    return "Trading is open.", [[InlineKeyboardButton("Halt all trading", callback_data="aa:halt:all")]]


async def report_screen(context: BotContext) -> Screen:
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
            f"Exposure at IB: {', '.join(await exposure(uow)) or 'none'}",
        ])  # fmt: skip

    return await context.services.db.transact(read, readonly=True), []


async def _sum(uow: UnitOfWork, kind: AccountKind) -> Decimal:
    query = select(func.coalesce(func.sum(ACCOUNTS.c.balance), 0)).where(ACCOUNTS.c.kind == kind.value)
    return Decimal(await uow.connection.scalar(query) or 0)


async def investor_card(uow: UnitOfWork, cipher: FieldCipher, found: UserRecord, admin_user: UserRecord) -> Screen:
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


def _age(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


async def broker_screen(context: BotContext) -> Screen:
    """The IB connection as the broker part sees it now."""
    broker = context.services.broker
    status = broker.connection.status()
    since = f"{status.connected_since:%Y-%m-%d %H:%M} UTC" if status.connected_since else "-"
    lines = [
        "<b>Broker</b>",
        f"Connection: {status.state.value} since {since}",
        f"Last error: {esc(status.last_error or 'none')}",
        f"Messages sent: {status.messages_sent}{' (pacing now)' if status.throttling else ''}",
        f"Orders in flight: {status.orders_in_flight}",
    ]
    return "\n".join(lines), [[InlineKeyboardButton("Cancel all open orders", callback_data="aa:cancel_all:all")]]


async def reconcile_screen(context: BotContext) -> Screen:
    """Reconcile now, then show what is open."""
    reconciler = context.services.broker.reconciler
    if reconciler is not None:
        await reconciler.run()
    return await breaks_screen(context)


async def audit_screen(context: BotContext) -> Screen:
    """The last events of the audit trail, and whether the chain holds."""
    services = context.services

    async def read(uow: UnitOfWork) -> str:
        checked = await audit.verify(uow)
        query = select(audit.LOG).order_by(audit.LOG.c.seq.desc()).limit(15)
        rows = (await uow.connection.execute(query)).all()
        state = "whole" if checked.whole else f"BROKEN at event {checked.broken_at}"
        lines = [f"<b>Audit trail</b>: {checked.rows} events, {state}"]
        lines += [
            f"{row.seq}. {row.at:%m-%d %H:%M} {esc(row.actor)} {esc(row.action)} {esc(row.subject)[:12]}"
            for row in rows
        ]
        return "\n".join(lines)

    return await services.db.transact(read, readonly=True), []


async def exposure(uow: UnitOfWork) -> list[str]:
    """Shares held at IB per instrument, as the books have them."""
    rows = await uow.connection.execute(
        select(ACCOUNTS.c.instrument_id, ACCOUNTS.c.balance).where(
            ACCOUNTS.c.kind == AccountKind.BROKER_POSITION.value, ACCOUNTS.c.balance != 0
        )
    )
    held = dict(rows.tuples().all())
    symbols = await symbols_of(uow, held)
    return [f"{esc(symbols.get(con_id, con_id))} {shares(quantity)}" for con_id, quantity in sorted(held.items())]
