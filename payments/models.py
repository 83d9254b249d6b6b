"""SQLAlchemy models of payments: investors' bank accounts (numbers sealed), deposit references, transfers
that arrived at the platform's bank, withdrawals and their history, providers' notifications (each handled
once), and transfers between the platform's bank and IB."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, encrypted_column, str_enum
from core.types import UtcDateTime
from ledger.money import Amount

from .bank_details import BankKind
from .states import WithdrawalStatus

_AUTO_ID = BigInteger().with_variant(Integer(), "sqlite")


class BankAccount(Base):
    __tablename__ = "bank_accounts"
    __table_args__ = (Index("ix_bank_accounts_owner", "owner_id", "removed_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[BankKind] = mapped_column(str_enum(BankKind, "bank_kind", 8))
    country: Mapped[str] = mapped_column(String(2))
    bic: Mapped[str | None] = mapped_column(String(11), nullable=True)  # a bank's public identifier
    routing_number: Mapped[str | None] = mapped_column(String(9), nullable=True)  # likewise
    account_number: Mapped[bytes] = encrypted_column()  # the IBAN or the US account number, sealed
    account_index: Mapped[bytes] = mapped_column(LargeBinary(32))  # blind index: the same account added twice
    last4: Mapped[str] = mapped_column(String(4))
    holder_name: Mapped[bytes] = encrypted_column()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    usable_from: Mapped[datetime] = mapped_column(UtcDateTime)  # withdrawals to it only after the cooldown
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class DepositReference(Base):
    """The reference an investor writes on a transfer to the platform's bank, so that it is credited to them."""

    __tablename__ = "deposit_references"

    reference: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Amount)  # what the investor said they would send
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IncomingTransfer(Base):
    """Money that arrived at the platform's bank, as the provider (or an admin) reported it: credited to its
    investor, or held in suspense until an admin matches it."""

    __tablename__ = "incoming_transfers"
    __table_args__ = (UniqueConstraint("provider", "provider_tx_id", name="uq_incoming_transfers_provider_tx"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(24))
    provider_tx_id: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(Amount)
    reference: Mapped[str] = mapped_column(String(140))  # as written by the payer
    owner_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16))  # credited, suspense
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    credited_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Withdrawal(Base):
    __tablename__ = "withdrawals"
    __table_args__ = (
        UniqueConstraint("owner_id", "client_key", name="uq_withdrawals_owner_key"),
        Index("ix_withdrawals_owner_created", "owner_id", "created_at"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    client_key: Mapped[str] = mapped_column(String(100))  # the caller's idempotency key
    bank_account_id: Mapped[UUID] = mapped_column(ForeignKey("bank_accounts.id"))
    amount: Mapped[Decimal] = mapped_column(Amount)
    status: Mapped[WithdrawalStatus] = mapped_column(str_enum(WithdrawalStatus, "withdrawal_status", 16), index=True)
    hold_id: Mapped[UUID] = mapped_column(ForeignKey("holds.id"))
    provider: Mapped[str] = mapped_column(String(24))
    provider_ref: Mapped[str | None] = mapped_column(String(100), nullable=True, unique=True)
    reason: Mapped[str] = mapped_column(String(300))  # why it was rejected, failed or returned
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WithdrawalTransition(Base):
    __tablename__ = "withdrawal_transitions"

    id: Mapped[int] = mapped_column(_AUTO_ID, primary_key=True, autoincrement=True)
    withdrawal_id: Mapped[UUID] = mapped_column(ForeignKey("withdrawals.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    detail: Mapped[str] = mapped_column(String(300))  # who and why (an admin's reason, the bank's code)


class ProviderEvent(Base):
    """A provider's notification, recorded once: a replay finds it and changes nothing."""

    __tablename__ = "provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_provider_events_provider_event"),)

    id: Mapped[int] = mapped_column(_AUTO_ID, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(24))
    event_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BrokerTransfer(Base):
    """Money between the platform's bank and its IB account, recorded by an admin: sent, then arrived (booked
    in the ledger on arrival, so that the books follow IB's cash)."""

    __tablename__ = "broker_transfers"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))  # to_ib, from_ib
    amount: Mapped[Decimal] = mapped_column(Amount)
    status: Mapped[str] = mapped_column(String(8))  # sent, arrived
    note: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
