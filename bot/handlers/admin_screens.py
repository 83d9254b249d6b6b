"""The admin chat's screens: what an admin reads (the withdrawals to review, the breaks, the halt, the broker,
the report, an investor's card, the audit log), each with the buttons that act on it (bot/handlers/admin.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from telegram import InlineKeyboardButton

from broker import halts
from broker.market_data import last_prices
from core import audit, two_factor, user_service
from core.crypto import FieldCipher
from core.db import UnitOfWork
from core.models import User
from core.users import UserRecord, UserStatus
from ledger.accounts import AccountKind, Asset
from ledger.instruments import symbols_of
from ledger.money import ZERO
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
    lines.append("To give the investor a reason: <code>/money reject ID REASON</code> with the ID of:")
    lines += [f"{number}. <code>{record.id}</code>" for number, record in enumerate(waiting, 1)]
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


@dataclass(frozen=True)
class _Books:
    """The report's figures from the books, read in one transaction (prices come after it, from IB)."""

    users: str
    investors_cash: Decimal
    cash: funding.CashPositions
    income: Decimal
    investors_shares: dict[int, Decimal]  # by instrument, copies included
    at_ib: dict[int, Decimal]  # the omnibus position per instrument: investors' and the house's
    symbols: dict[int, str]


async def report_screen(context: BotContext) -> Screen:
    """Users, assets under management at market, cash at the bank and at IB, exposure by symbol, house income."""
    books = await context.services.db.transact(_books, readonly=True)
    prices = await last_prices(context.services.broker.link, books.investors_shares.keys() | books.at_ib.keys())
    unpriced = [con_id for con_id in books.investors_shares if con_id not in prices]
    aum = books.investors_cash + sum(
        (quantity * prices[con_id] for con_id, quantity in books.investors_shares.items() if con_id in prices),
        ZERO,
    )
    missing = f" ({len(unpriced)} holdings without a price left out)" if unpriced else ""

    def exposure(con_id: int, quantity: Decimal) -> str:
        value = f" = {usd(quantity * prices[con_id])}" if con_id in prices else " (no price)"
        return f"{esc(books.symbols.get(con_id, str(con_id)))} {shares(quantity)}{value}"

    held = [exposure(con_id, quantity) for con_id, quantity in sorted(books.at_ib.items())]
    cash = books.cash
    return "\n".join([
        "<b>Platform report</b>",
        f"Users: {esc(books.users) or 'none'}",
        f"Assets under management at market: {usd(aum)}{missing}",
        f"Investors' cash: {usd(books.investors_cash)}",
        f"Cash at the bank: {usd(cash.at_bank)}, at IB: {usd(cash.at_ib)}",
        f"In transit to IB: {usd(cash.in_transit.to_ib)}, from IB: {usd(cash.in_transit.from_ib)}",
        f"House income: {usd(books.income)}",
        "Exposure at IB: " + ("\n  " + "\n  ".join(held) if held else "none"),
    ]), []  # fmt: skip


async def _books(uow: UnitOfWork) -> _Books:
    counted = await uow.connection.execute(select(User.status, func.count()).group_by(User.status))
    users = sorted(((getattr(status, "value", status), count) for status, count in counted), key=str)
    investors_shares = await _shares(uow, AccountKind.INVESTOR_POSITION)
    at_ib = await _shares(uow, AccountKind.BROKER_POSITION)
    return _Books(
        users=", ".join(f"{count} {status}" for status, count in users),
        investors_cash=await _sum(uow, AccountKind.INVESTOR_CASH),
        cash=await funding.cash_positions(uow),
        income=await _sum(uow, AccountKind.HOUSE_FEES) + await _sum(uow, AccountKind.HOUSE_COMMISSIONS),
        investors_shares=investors_shares,
        at_ib=at_ib,
        symbols=await symbols_of(uow, investors_shares.keys() | at_ib.keys()),
    )


async def _shares(uow: UnitOfWork, kind: AccountKind) -> dict[int, Decimal]:
    """Shares per instrument over every account of the kind (none where they sum to zero)."""
    query = (
        select(ACCOUNTS.c.instrument_id, func.sum(ACCOUNTS.c.balance))
        .where(ACCOUNTS.c.kind == kind.value, ACCOUNTS.c.balance != 0)
        .group_by(ACCOUNTS.c.instrument_id)
    )
    return {con_id: Decimal(total) for con_id, total in (await uow.connection.execute(query)) if total}


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
    """The IB connection as the broker process sees it now."""
    status = await context.services.broker.link.status()
    since = f"{status.connected_since:%Y-%m-%d %H:%M} UTC" if status.connected_since else "-"
    round_trip = status.round_trip_ms
    traffic = status.traffic
    lines = [
        "<b>Broker</b>",
        f"Connection: {status.state.value} since {since}",
        f"Last error: {esc(status.last_error or 'none')}",
        f"Round trip to IB: {f'{round_trip:.1f} ms' if round_trip is not None else 'no answer'}",
        f"Messages a second (last minute): {traffic.sent_per_second:.1f} sent, "
        f"{traffic.received_per_second:.1f} received; {status.messages_sent} sent in all"
        f"{' (pacing now)' if status.throttling else ''}",
        f"Orders in flight: {status.orders_in_flight}",
    ]
    return "\n".join(lines), [[InlineKeyboardButton("Cancel all open orders", callback_data="aa:cancel_all:all")]]


async def reconcile_screen(context: BotContext) -> Screen:
    """Reconcile now, then show what is open."""
    await context.services.broker.link.reconcile()
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
