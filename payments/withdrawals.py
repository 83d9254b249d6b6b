"""Withdrawals to the investor's own bank account, through their states (`states.py`) with their ledger effects:
the amount is held at the request, posted at settlement, given back on a rejection, a cancellation or a failure,
and booked back when the bank returns the payment. Every move is recorded, and told to the investor.

Withdrawable = settled cash (sale proceeds and deposits still on hold left out) - what open orders and other
withdrawals hold - what the margin rules keep (`margin_cap`, from the broker's calculator). The investor's
cash account is locked while this is worked out and the hold placed: two requests at once never withdraw the
same money twice.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Table, func, insert, select, update

from core import audit, user_service
from core.calendar import trade_date
from core.config import Settings
from core.db import UnitOfWork
from core.errors import IdempotencyConflict, NotFound, PaymentRefused
from core.limits import limits_of
from core.outbox import Message, publish
from core.pending_actions import Spend
from core.users import UserStatus
from ledger import operations
from ledger.accounts import AccountKind, Asset
from ledger.money import ZERO, require_cash
from ledger.service import open_account, place_hold, release_hold
from ledger.settlement import withdrawable_cash
from ledger.store import accounts_by_id

from .bank_accounts import bank_account
from .models import Withdrawal, WithdrawalTransition
from .states import WithdrawalStatus, check_move

WITHDRAWALS: Table = Withdrawal.__table__  # type: ignore[assignment]
TRANSITIONS: Table = WithdrawalTransition.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class WithdrawalRecord:
    id: UUID
    owner_id: UUID
    client_key: str
    bank_account_id: UUID
    amount: Decimal
    status: WithdrawalStatus
    hold_id: UUID
    provider: str
    provider_ref: str | None
    reason: str
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None


async def withdrawable(uow: UnitOfWork, owner_id: UUID, margin_cap: Decimal | None = None) -> Decimal:
    cash = await withdrawable_cash(uow, owner_id, trade_date(uow.clock.now()))
    return cash if margin_cap is None else max(ZERO, min(cash, margin_cap))


async def request(
    uow: UnitOfWork,
    settings: Settings,
    owner_id: UUID,
    bank_account_id: UUID,
    amount: Decimal,
    client_key: str,
    provider: str,
    margin_cap: Decimal | None = None,
    spending: Spend | None = None,
) -> WithdrawalRecord:
    """Ask for a withdrawal, to be paid through `provider` (the same client key again gives back the same one).
    `spending` runs first in the same transaction (the chat confirmation taken: the withdrawal and the code that
    confirmed it are both, or neither)."""
    amount = require_cash(amount)
    existing = await _by_key(uow, owner_id, client_key)
    if existing is not None:
        if (existing.amount, existing.bank_account_id) != (amount, bank_account_id):
            raise IdempotencyConflict(client_key)
        return existing
    if spending is not None:
        await spending(uow)
    if (await user_service.get_user(uow, owner_id)).status is not UserStatus.ACTIVE:
        raise PaymentRefused("your account cannot withdraw now (it is not active)")
    bank = await bank_account(uow, owner_id, bank_account_id)
    now = uow.clock.now()
    if bank.usable_from > now:
        raise PaymentRefused(f"this bank account can receive withdrawals from {bank.usable_from:%Y-%m-%d %H:%M} UTC")
    if amount < settings.payments_withdrawal_min:
        raise PaymentRefused(f"the smallest withdrawal is {settings.payments_withdrawal_min} USD")
    cash = await open_account(uow, AccountKind.INVESTOR_CASH, Asset.cash(), owner_id)
    await accounts_by_id(uow, [cash.id], lock=True)  # one request at a time per investor from here to the hold
    available = await withdrawable(uow, owner_id, margin_cap)
    if amount > available:
        raise PaymentRefused(f"you can withdraw up to {available} USD now")
    today = await _withdrawn_today(uow, owner_id)
    daily = (await limits_of(uow, settings, owner_id)).withdrawal_daily_limit
    if today + amount > daily:
        left = max(ZERO, daily - today)
        raise PaymentRefused(f"that is over the daily limit: {left} USD more can be withdrawn today")
    withdrawal_id = uow.ids.new_id()
    hold = await place_hold(uow, cash.id, amount, key=f"withdrawal/{withdrawal_id}", reason="withdrawal")
    record = WithdrawalRecord(
        withdrawal_id, owner_id, client_key[:100], bank_account_id, amount, WithdrawalStatus.REQUESTED, hold.id,
        provider, None, "", now, now, None,
    )  # fmt: skip
    await uow.connection.execute(insert(WITHDRAWALS).values(**_row(record)))
    await _record_move(uow, record.id, None, WithdrawalStatus.REQUESTED, "requested by the investor")
    await audit.record(uow, f"user:{owner_id}", "withdrawal.requested", record.id, amount=amount, bank=bank.masked)
    if amount < settings.payments_auto_approve_below:
        return await move(uow, record, WithdrawalStatus.APPROVED, "approved automatically (under the threshold)")
    facts = {"withdrawal_id": str(withdrawal_id), "amount": str(amount)}
    await publish(uow, [Message("admin.withdrawal_review", f"review/{withdrawal_id}", facts)])
    return await move(uow, record, WithdrawalStatus.PENDING_REVIEW, "waiting for an admin's review")


async def review(
    uow: UnitOfWork, withdrawal_id: UUID, *, approve: bool, admin: str, reason: str = ""
) -> WithdrawalRecord:
    record = await get(uow, withdrawal_id, lock=True)
    target = WithdrawalStatus.APPROVED if approve else WithdrawalStatus.REJECTED
    # The reason is told to the investor; who reviewed is kept in the audit trail (the actor), not shown.
    why = reason.strip() or f"{'approved' if approve else 'rejected'} by an admin"
    return await move(uow, record, target, why, actor=admin)


async def cancel(uow: UnitOfWork, owner_id: UUID, withdrawal_id: UUID) -> WithdrawalRecord:
    """The investor drops a withdrawal not yet sent to the bank."""
    record = await get(uow, withdrawal_id, lock=True)
    if record.owner_id != owner_id:
        raise NotFound("withdrawal", withdrawal_id)
    if record.status not in (WithdrawalStatus.PENDING_REVIEW, WithdrawalStatus.APPROVED) or record.provider_ref:
        raise PaymentRefused("this withdrawal has gone to the bank already: it can no longer be cancelled")
    return await move(uow, record, WithdrawalStatus.CANCELLED, "cancelled by the investor", actor=f"user:{owner_id}")


async def move(
    uow: UnitOfWork, record: WithdrawalRecord, target: WithdrawalStatus, detail: str, actor: str = "system"
) -> WithdrawalRecord:
    """Move the withdrawal on, with the move's ledger effect, its record (and audit), and a word to the investor."""
    check_move(record.status, target)
    now = uow.clock.now()
    moved = replace(record, status=target, updated_at=now)
    if target in (WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED, WithdrawalStatus.FAILED):
        await release_hold(uow, record.hold_id)
        moved = replace(moved, reason=detail[:300])
    elif target is WithdrawalStatus.SETTLED:
        key, memo = f"withdrawal/{record.id}", f"withdrawal to bank account {record.bank_account_id}"
        await operations.withdraw(uow, record.owner_id, record.amount, key=key, memo=memo, hold_id=record.hold_id)
        moved = replace(moved, settled_at=now)
    elif target is WithdrawalStatus.RETURNED:
        await operations.withdrawal_returned(
            uow, record.owner_id, record.amount, key=f"withdrawal/{record.id}/returned", memo=detail[:200]
        )
        moved = replace(moved, reason=detail[:300])
    values = {name: getattr(moved, name) for name in ("status", "updated_at", "reason", "settled_at", "provider_ref")}
    await uow.connection.execute(update(WITHDRAWALS).where(WITHDRAWALS.c.id == record.id).values(**values))
    await _record_move(uow, record.id, record.status, target, detail)
    await audit.record(uow, actor, f"withdrawal.{target.value}", record.id, amount=record.amount, why=detail)
    facts = {"owner_id": str(record.owner_id), "withdrawal_id": str(record.id), "amount": str(record.amount)}
    facts |= {"status": target.value, "reason": moved.reason}
    await publish(
        uow, [Message(f"payments.withdrawal_{target.value}", f"withdrawal/{record.id}/{target.value}", facts)]
    )
    return moved


async def sending(uow: UnitOfWork, withdrawal_id: UUID) -> bool:
    """The payment desk is about to send this approved withdrawal to the bank: from now on it cannot be
    cancelled, since the bank may have taken it even if our process dies before hearing so (it is sent again,
    the same payout). False when it is no longer approved (cancelled meanwhile)."""
    record = await get(uow, withdrawal_id, lock=True)
    if record.status is not WithdrawalStatus.APPROVED:
        return False
    if not record.provider_ref:
        marker = {"provider_ref": f"sending/{record.id}", "updated_at": uow.clock.now()}
        await uow.connection.execute(update(WITHDRAWALS).where(WITHDRAWALS.c.id == record.id).values(**marker))
    return True


async def submitted(uow: UnitOfWork, record: WithdrawalRecord, provider_ref: str) -> WithdrawalRecord:
    """The provider took the payment (its reference, to match what it reports later)."""
    return await move(
        uow, replace(record, provider_ref=provider_ref[:100]), WithdrawalStatus.SUBMITTED, f"sent ({provider_ref})"
    )


async def returned(uow: UnitOfWork, settings: Settings, record: WithdrawalRecord, reason: str) -> WithdrawalRecord:
    if record.settled_at is None or uow.clock.now() - record.settled_at > timedelta(
        days=settings.payments_return_window_days
    ):
        raise PaymentRefused("a payment can be returned only within the return window after it settled")
    return await move(uow, record, WithdrawalStatus.RETURNED, f"returned by the bank: {reason}")


async def get(uow: UnitOfWork, withdrawal_id: UUID, *, lock: bool = False) -> WithdrawalRecord:
    query = select(WITHDRAWALS).where(WITHDRAWALS.c.id == withdrawal_id)
    row = (await uow.connection.execute(query.with_for_update() if lock else query)).one_or_none()
    if row is None:
        raise NotFound("withdrawal", withdrawal_id)
    return _record(row)


async def by_provider_ref(uow: UnitOfWork, provider_ref: str) -> WithdrawalRecord:
    query = select(WITHDRAWALS).where(WITHDRAWALS.c.provider_ref == provider_ref).with_for_update()
    row = (await uow.connection.execute(query)).one_or_none()
    if row is None:
        raise NotFound("withdrawal", provider_ref)
    return _record(row)


async def in_status(uow: UnitOfWork, status: WithdrawalStatus, provider: str | None = None) -> list[WithdrawalRecord]:
    query = select(WITHDRAWALS).where(WITHDRAWALS.c.status == status.value)
    if provider is not None:
        query = query.where(WITHDRAWALS.c.provider == provider)
    return [_record(row) for row in await uow.connection.execute(query.order_by(WITHDRAWALS.c.created_at))]


async def of_owner(uow: UnitOfWork, owner_id: UUID, limit: int = 10) -> list[WithdrawalRecord]:
    query = select(WITHDRAWALS).where(WITHDRAWALS.c.owner_id == owner_id)
    query = query.order_by(WITHDRAWALS.c.created_at.desc()).limit(limit)
    return [_record(row) for row in await uow.connection.execute(query)]


async def history(uow: UnitOfWork, withdrawal_id: UUID) -> list[tuple[str | None, str, str]]:
    query = select(TRANSITIONS).where(TRANSITIONS.c.withdrawal_id == withdrawal_id).order_by(TRANSITIONS.c.id)
    return [(row.from_status, row.to_status, row.detail) for row in await uow.connection.execute(query)]


async def _withdrawn_today(uow: UnitOfWork, owner_id: UUID) -> Decimal:
    since = uow.clock.now() - timedelta(days=1)  # a rolling day: no rush at midnight
    counted = [s.value for s in WithdrawalStatus if s.counts_toward_limit]
    query = select(func.coalesce(func.sum(WITHDRAWALS.c.amount), 0)).where(
        WITHDRAWALS.c.owner_id == owner_id, WITHDRAWALS.c.created_at > since, WITHDRAWALS.c.status.in_(counted)
    )
    return Decimal(await uow.connection.scalar(query) or 0)


async def _by_key(uow: UnitOfWork, owner_id: UUID, client_key: str) -> WithdrawalRecord | None:
    query = select(WITHDRAWALS).where(WITHDRAWALS.c.owner_id == owner_id, WITHDRAWALS.c.client_key == client_key[:100])
    row = (await uow.connection.execute(query)).one_or_none()
    return None if row is None else _record(row)


async def _record_move(
    uow: UnitOfWork, withdrawal_id: UUID, old: WithdrawalStatus | None, new: WithdrawalStatus, detail: str
) -> None:
    row = {"withdrawal_id": withdrawal_id, "from_status": old.value if old else None, "to_status": new.value}
    await uow.connection.execute(insert(TRANSITIONS).values(**row, at=uow.clock.now(), detail=detail[:300]))


def _row(record: WithdrawalRecord) -> dict[str, Any]:
    return {field.name: getattr(record, field.name) for field in fields(record)}


def _record(row: Row[Any]) -> WithdrawalRecord:
    values = {field.name: row._mapping[field.name] for field in fields(WithdrawalRecord)}
    return WithdrawalRecord(**values | {"status": WithdrawalStatus(values["status"])})
