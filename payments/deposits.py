"""Deposits: an investor asks for instructions (/deposit AMOUNT) and gets the platform's bank details with a
reference of their own; when the provider reports a transfer with that reference (once per provider transaction,
however often reported), or an admin records it, the investor is credited. Money that matches no one waits in
suspense until an admin matches it.

Deposited money may trade at once; it is withdrawable only after the deposit hold (business days, setting),
kept with sale proceeds not yet settled (ledger.settlement).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Table, insert, select, update

from core import audit, user_service
from core.calendar import add_business_days, trade_date
from core.config import Settings
from core.db import UnitOfWork
from core.errors import NotFound, PaymentRefused
from core.outbox import Message, publish
from core.users import UserStatus
from ledger import operations
from ledger.money import require_cash
from ledger.settlement import Proceeds, record_proceeds

from .models import DepositReference, IncomingTransfer

REFERENCES: Table = DepositReference.__table__  # type: ignore[assignment]
TRANSFERS: Table = IncomingTransfer.__table__  # type: ignore[assignment]
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I/L to misread
PREFIX = "OM"
FOUND = re.compile(rf"{PREFIX}[{ALPHABET}]{{10}}")
CREDITED, SUSPENSE = "credited", "suspense"
RECORDED = "admin"  # the provider name of deposits an admin records from the bank statement


@dataclass(frozen=True)
class Instructions:
    reference: str
    amount: Decimal
    bank_name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class Transfer:
    id: UUID
    provider: str
    provider_tx_id: str
    amount: Decimal
    owner_id: UUID | None
    status: str
    received_at: datetime


def new_reference() -> str:
    """OM, nine random characters and a check character: a typo in it matches no one (it goes to suspense)."""
    body = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(9))
    return body + _check(body)


def reference_in(text: str) -> str | None:
    """The first well-formed reference in what the payer wrote (spaces, dashes and case do not matter)."""
    compact = re.sub(r"[^0-9A-Z]", "", text.upper())
    for found in FOUND.finditer(compact):
        candidate = found.group(0)
        if _check(candidate[:-1]) == candidate[-1]:
            return candidate
    return None


async def instructions(uow: UnitOfWork, settings: Settings, owner_id: UUID, amount: Decimal) -> Instructions:
    if (await user_service.get_user(uow, owner_id)).status is not UserStatus.ACTIVE:
        raise PaymentRefused("only an active account can deposit")
    amount = require_cash(amount)
    if amount < settings.payments_deposit_min:
        raise PaymentRefused(f"the smallest deposit is {settings.payments_deposit_min} USD")
    reference = new_reference()
    row = {"reference": reference, "owner_id": owner_id, "amount": amount, "created_at": uow.clock.now()}
    await uow.connection.execute(insert(REFERENCES).values(**row))
    return Instructions(
        reference, amount, settings.payments_bank_name, settings.payments_bank_iban, settings.payments_bank_bic
    )


async def receive(
    uow: UnitOfWork, settings: Settings, provider: str, tx_id: str, amount: Decimal, reference: str
) -> Transfer:
    """Money arrived at the platform's bank: credited to the investor its reference names, else to suspense.
    The same provider transaction again changes nothing."""
    amount = require_cash(amount)
    existing = await _transfer_by_tx(uow, provider, tx_id)
    if existing is not None:
        return existing
    owner = await _owner_of(uow, reference_in(reference) or "")
    now = uow.clock.now()
    transfer = Transfer(uow.ids.new_id(), provider, tx_id, amount, owner, CREDITED if owner else SUSPENSE, now)
    row = transfer.__dict__ | {"reference": reference[:140], "credited_at": now if owner else None}
    await uow.connection.execute(insert(TRANSFERS).values(**row))
    if owner is None:
        await operations.into_suspense(uow, amount, key=f"deposit/{transfer.id}", memo=f"unmatched: {reference[:100]}")
        facts = {"transfer_id": str(transfer.id), "amount": str(amount), "provider": provider}
        await publish(uow, [Message("admin.deposit_suspense", f"suspense/{transfer.id}", facts)])
        await audit.record(uow, f"provider:{provider}", "deposit.suspense", transfer.id, amount=amount)
        return transfer
    await _credit(uow, settings, transfer, owner, in_suspense=False)
    return transfer


async def record(uow: UnitOfWork, settings: Settings, owner_id: UUID, amount: Decimal, bank_ref: str) -> Transfer:
    """An admin records money the bank statement shows for this investor (once per bank reference)."""
    amount = require_cash(amount)
    existing = await _transfer_by_tx(uow, RECORDED, bank_ref)
    if existing is not None:
        return existing
    await user_service.get_user(uow, owner_id)
    now = uow.clock.now()
    transfer = Transfer(uow.ids.new_id(), RECORDED, bank_ref[:100], amount, owner_id, CREDITED, now)
    row = transfer.__dict__ | {"reference": "recorded by an admin", "credited_at": now}
    await uow.connection.execute(insert(TRANSFERS).values(**row))
    await _credit(uow, settings, transfer, owner_id, in_suspense=False)
    return transfer


async def match_suspense(uow: UnitOfWork, settings: Settings, transfer_id: UUID, owner_id: UUID) -> Transfer:
    """An admin names whose money a transfer in suspense is."""
    row = (
        await uow.connection.execute(select(TRANSFERS).where(TRANSFERS.c.id == transfer_id).with_for_update())
    ).one_or_none()
    if row is None or row.status != SUSPENSE:
        raise NotFound("transfer in suspense", transfer_id)
    await user_service.get_user(uow, owner_id)
    now = uow.clock.now()
    await uow.connection.execute(
        update(TRANSFERS)
        .where(TRANSFERS.c.id == transfer_id)
        .values(owner_id=owner_id, status=CREDITED, credited_at=now)
    )
    transfer = Transfer(row.id, row.provider, row.provider_tx_id, row.amount, owner_id, CREDITED, row.received_at)
    await _credit(uow, settings, transfer, owner_id, in_suspense=True)
    return transfer


async def _credit(uow: UnitOfWork, settings: Settings, transfer: Transfer, owner: UUID, *, in_suspense: bool) -> None:
    key, memo = f"deposit/{transfer.id}", f"deposit via {transfer.provider}"
    if in_suspense:
        await operations.out_of_suspense(uow, owner, transfer.amount, key=f"{key}/matched", memo=memo)
    else:
        await operations.deposit(uow, owner, transfer.amount, key=key, memo=memo)
    withdrawable_on = add_business_days(trade_date(uow.clock.now()), settings.payments_deposit_hold_days)
    await record_proceeds(uow, [Proceeds(key, owner, transfer.amount, withdrawable_on)])  # the deposit hold
    facts = {"owner_id": str(owner), "amount": str(transfer.amount), "withdrawable_on": withdrawable_on.isoformat()}
    await publish(uow, [Message("payments.deposit_credited", f"credited/{transfer.id}", facts)])
    actor = "admin" if in_suspense or transfer.provider == RECORDED else f"provider:{transfer.provider}"
    await audit.record(uow, actor, "deposit.credited", transfer.id, owner=owner, amount=transfer.amount)


async def in_suspense(uow: UnitOfWork) -> list[tuple[Transfer, str]]:
    """The transfers no investor has been matched to yet, oldest first, with what the payer wrote."""
    query = select(TRANSFERS).where(TRANSFERS.c.status == SUSPENSE).order_by(TRANSFERS.c.received_at)
    return [
        (Transfer(r.id, r.provider, r.provider_tx_id, r.amount, r.owner_id, r.status, r.received_at), r.reference)
        for r in await uow.connection.execute(query)
    ]


async def _owner_of(uow: UnitOfWork, reference: str) -> UUID | None:
    row = (
        await uow.connection.execute(select(REFERENCES.c.owner_id).where(REFERENCES.c.reference == reference))
    ).first()
    return None if row is None else row.owner_id


async def _transfer_by_tx(uow: UnitOfWork, provider: str, tx_id: str) -> Transfer | None:
    query = select(TRANSFERS).where(TRANSFERS.c.provider == provider, TRANSFERS.c.provider_tx_id == tx_id)
    row = (await uow.connection.execute(query)).one_or_none()
    if row is None:
        return None
    return Transfer(row.id, row.provider, row.provider_tx_id, row.amount, row.owner_id, row.status, row.received_at)


def _check(body: str) -> str:
    """A sum of the characters' places in the alphabet with odd weights, modulo its length (32): odd weights
    are invertible modulo 32, so any single mistyped character changes the check."""
    total = sum((2 * index + 1) * ALPHABET.index(char) for index, char in enumerate(body[len(PREFIX) :]))
    return ALPHABET[total % len(ALPHABET)]
