"""SQLAlchemy models of the ledger. The database enforces its own invariants too (alembic/versions/0001):
postings and entries are append-only, an entry is recorded after its postings and only if they balance."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, str_enum
from core.types import UtcDateTime

from .accounts import AccountKind
from .holds import HoldStatus
from .money import Amount

_AUTO_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class Instrument(Base):
    __tablename__ = "instruments"

    con_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    symbol: Mapped[str] = mapped_column(String(24), index=True)
    sec_type: Mapped[str] = mapped_column(String(8))
    exchange: Mapped[str] = mapped_column(String(16))
    primary_exchange: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("(currency IS NULL) <> (instrument_id IS NULL)", name="one_asset"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[AccountKind] = mapped_column(str_enum(AccountKind, "account_kind"))
    owner_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    # A part of the owner's money kept apart (accounts.AccountSpec): a copy's cash and shares, say.
    sleeve_id: Mapped[UUID | None] = mapped_column(Uuid, index=True, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.con_id"))
    balance: Mapped[Decimal] = mapped_column(Amount)  # kept by the database as postings arrive
    held: Mapped[Decimal] = mapped_column(Amount)
    version: Mapped[int] = mapped_column(BigInteger)  # moves with every posting and every change of `held`
    credit_line: Mapped[Decimal] = mapped_column(Amount, server_default="0")  # see ledger/credit.py
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Entry(Base):
    __tablename__ = "entries"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    memo: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Posting(Base):
    __tablename__ = "postings"
    __table_args__ = (Index("ix_postings_account_posting", "account_id", "id"),)

    id: Mapped[int] = mapped_column(_AUTO_ID, primary_key=True, autoincrement=True)
    # Deferred: postings are written before their entry, whose insert checks that they balance.
    entry_id: Mapped[UUID] = mapped_column(ForeignKey("entries.id", deferrable=True, initially="DEFERRED"), index=True)
    account_id: Mapped[UUID] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[Decimal] = mapped_column(Amount)  # debit positive
    balance_after: Mapped[Decimal] = mapped_column(Amount)  # the account's balance on its normal side


class Hold(Base):
    __tablename__ = "holds"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Amount)
    posted: Mapped[Decimal] = mapped_column(Amount)
    released: Mapped[Decimal] = mapped_column(Amount)
    status: Mapped[HoldStatus] = mapped_column(str_enum(HoldStatus, "hold_status", 16))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HoldUse(Base):
    """Which entry posted how much of which hold."""

    __tablename__ = "hold_uses"

    id: Mapped[int] = mapped_column(_AUTO_ID, primary_key=True, autoincrement=True)
    hold_id: Mapped[UUID] = mapped_column(ForeignKey("holds.id"), index=True)
    entry_id: Mapped[UUID] = mapped_column(ForeignKey("entries.id", deferrable=True, initially="DEFERRED"))
    amount: Mapped[Decimal] = mapped_column(Amount)


class Position(Base):
    """Cost basis and realized P&L of an investor's position; the quantity is its account's balance."""

    __tablename__ = "positions"

    account_id: Mapped[UUID] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    cost_basis: Mapped[Decimal] = mapped_column(Amount)
    realized_pnl: Mapped[Decimal] = mapped_column(Amount)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PendingSettlement(Base):
    """Sale proceeds credited to an investor that the clearing house has not settled yet (T+1): they may buy
    at once, and are not withdrawable before `settles_on`."""

    __tablename__ = "pending_settlements"
    __table_args__ = (Index("ix_pending_settlements_owner", "owner_id", "settles_on"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal] = mapped_column(Amount)
    settles_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NavPoint(Base):
    """An investor's equity (cash plus positions at market) as last valued on a trading day: the equity curve."""

    __tablename__ = "nav_history"

    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    equity: Mapped[Decimal] = mapped_column(Amount)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReconciliationBreak(Base):
    """A difference between the books and IB (ledger/reconciliation.py), from when it was first seen until it
    cleared."""

    __tablename__ = "reconciliation_breaks"
    __table_args__ = (Index("ix_reconciliation_breaks_open", "resolved_at", "kind", "key"),)

    id: Mapped[int] = mapped_column(_AUTO_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # position, cash, execution
    key: Mapped[str] = mapped_column(String(64))  # the conId, the currency, the execution id
    expected: Mapped[Decimal] = mapped_column(Amount)  # the books
    actual: Mapped[Decimal] = mapped_column(Amount)  # IB
    note: Mapped[str] = mapped_column(String(300))
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
