"""Investors' own bank accounts, where withdrawals go: added with a fresh code (the bot asks for it), in the
name the platform verified, stored sealed and shown masked; a new account receives withdrawals only after a
cooldown (an attacker who took over a session cannot add their account and withdraw at once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Table, insert, select, update

from core import audit, user_service
from core.config import Settings
from core.crypto import FieldCipher, FieldRef
from core.db import UnitOfWork
from core.errors import NotFound, PaymentRefused
from core.outbox import Message, publish
from core.users import UserStatus

from .bank_details import BankDetails, BankKind, same_person
from .models import BankAccount, Withdrawal
from .states import WithdrawalStatus

BANK_ACCOUNTS: Table = BankAccount.__table__  # type: ignore[assignment]
WITHDRAWALS: Table = Withdrawal.__table__  # type: ignore[assignment]
MONEY_HELD = [s.value for s in WithdrawalStatus if s.holds_money]


@dataclass(frozen=True)
class BankRecord:
    id: UUID
    owner_id: UUID
    kind: BankKind
    country: str
    bic: str | None
    routing_number: str | None
    last4: str
    created_at: datetime
    usable_from: datetime

    @property
    def masked(self) -> str:
        return f"{'IBAN' if self.kind is BankKind.IBAN else 'US account'} ...{self.last4}"


async def add_bank_account(
    uow: UnitOfWork, cipher: FieldCipher, settings: Settings, owner_id: UUID, details: BankDetails, holder: str
) -> BankRecord:
    if (await user_service.get_user(uow, owner_id)).status is not UserStatus.ACTIVE:
        raise PaymentRefused("only an active account can add a bank account")
    verified = (await user_service.read_personal_data(uow, cipher, owner_id)).full_name or ""
    if not same_person(verified, holder):
        raise PaymentRefused("the account holder's name must be the name on your profile (see /profile)")
    index = cipher.blind_index.digest("bank_account", f"{details.kind.value}:{details.account_number}")
    taken = select(BANK_ACCOUNTS.c.id).where(
        BANK_ACCOUNTS.c.owner_id == owner_id,
        BANK_ACCOUNTS.c.account_index == index,
        BANK_ACCOUNTS.c.removed_at.is_(None),
    )
    if (await uow.connection.execute(taken)).first() is not None:
        raise PaymentRefused("you have added this bank account already")
    now, account_id = uow.clock.now(), uow.ids.new_id()
    record = BankRecord(
        account_id,
        owner_id,
        details.kind,
        details.country,
        details.bic,
        details.routing_number,
        details.last4,
        now,
        now + timedelta(hours=settings.payments_bank_cooldown_hours),
    )
    sealed = {
        column: cipher.keyring.seal(value, FieldRef(BankAccount.__tablename__, column, str(account_id)))
        for column, value in (("account_number", details.account_number), ("holder_name", holder.strip()))
    }
    values = record.__dict__ | sealed | {"kind": details.kind.value, "account_index": index, "removed_at": None}
    await uow.connection.execute(insert(BANK_ACCOUNTS).values(**values))
    facts = {"owner_id": str(owner_id), "bank": record.masked, "usable_from": record.usable_from.isoformat()}
    await publish(uow, [Message("security.bank_added", f"bank_added/{account_id}", facts)])
    await audit.record(uow, f"user:{owner_id}", "bank.added", account_id, bank=record.masked)
    return record


async def bank_accounts(uow: UnitOfWork, owner_id: UUID) -> list[BankRecord]:
    query = select(BANK_ACCOUNTS).where(BANK_ACCOUNTS.c.owner_id == owner_id, BANK_ACCOUNTS.c.removed_at.is_(None))
    return [_record(row._mapping) for row in await uow.connection.execute(query.order_by(BANK_ACCOUNTS.c.created_at))]


async def bank_account(uow: UnitOfWork, owner_id: UUID, account_id: UUID) -> BankRecord:
    """The investor's own live account (another's, or a removed one, is not found)."""
    found = [account for account in await bank_accounts(uow, owner_id) if account.id == account_id]
    if not found:
        raise NotFound("bank account", account_id)
    return found[0]


async def remove_bank_account(uow: UnitOfWork, owner_id: UUID, account_id: UUID) -> BankRecord:
    account = await bank_account(uow, owner_id, account_id)
    busy = select(WITHDRAWALS.c.id).where(
        WITHDRAWALS.c.bank_account_id == account_id, WITHDRAWALS.c.status.in_(MONEY_HELD)
    )
    if (await uow.connection.execute(busy)).first() is not None:
        raise PaymentRefused("a withdrawal to this account is under way: remove it once that is done")
    await uow.connection.execute(
        update(BANK_ACCOUNTS).where(BANK_ACCOUNTS.c.id == account_id).values(removed_at=uow.clock.now())
    )
    await audit.record(uow, f"user:{owner_id}", "bank.removed", account_id, bank=account.masked)
    return account


async def account_number(uow: UnitOfWork, cipher: FieldCipher, account_id: UUID) -> tuple[str, str]:
    """The account's number and holder, unsealed: for the payment to it, and nothing else."""
    row = (await uow.connection.execute(select(BANK_ACCOUNTS).where(BANK_ACCOUNTS.c.id == account_id))).one()
    return tuple(  # type: ignore[return-value]
        cipher.keyring.open(row._mapping[column], FieldRef(BankAccount.__tablename__, column, str(account_id)))
        for column in ("account_number", "holder_name")
    )


def _record(values: object) -> BankRecord:
    row = dict(values)  # type: ignore[call-overload]
    return BankRecord(
        row["id"],
        row["owner_id"],
        BankKind(row["kind"]),
        row["country"],
        row["bic"],
        row["routing_number"],
        row["last4"],
        row["created_at"],
        row["usable_from"],
    )
