"""SQLAlchemy models of `core`: users, their second factor, onboarding, pending actions, and the outbox.
Personal data and secrets are stored sealed (core.crypto), never in plain text."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, encrypted_column, str_enum
from core.types import FixedDecimal, UtcDateTime
from core.users import Role, UserStatus


class User(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[UserStatus] = mapped_column(str_enum(UserStatus, "user_status", 16))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role", 16))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    full_name: Mapped[bytes | None] = encrypted_column(nullable=True)
    email: Mapped[bytes | None] = encrypted_column(nullable=True)
    phone: Mapped[bytes | None] = encrypted_column(nullable=True)
    country: Mapped[bytes | None] = encrypted_column(nullable=True)
    email_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True, nullable=True)


class TwoFactor(Base):
    """A user's TOTP second factor: the sealed secret, when enrolment was confirmed, the last time step used
    (a code works once) and the failures counted towards a lockout."""

    __tablename__ = "two_factor"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    secret: Mapped[bytes] = encrypted_column()
    enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    session_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # trading unlocked till then
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Onboarding(Base):
    """Where a new user is in onboarding (terms, personal data, the risk questionnaire), kept between messages."""

    __tablename__ = "onboarding"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    step: Mapped[str] = mapped_column(String(24))
    terms_accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    risk_answers: Mapped[bytes | None] = encrypted_column(nullable=True)  # sealed JSON
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PendingAction(Base):
    """An action a user is asked to confirm with a button: the button carries only `id`, a random token; the
    action belongs to one user, expires, and is used at most once."""

    __tablename__ = "pending_actions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class OutboxMessage(Base):
    """Something that happened, written in the transaction that made it happen, for whoever must hear of it
    (the notifier, copy trading); `key` makes a second write of the same fact a no-op."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    topic: Mapped[str] = mapped_column(String(40), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The notifier's progress: a worker claims a message until `claimed_until` (another takes it over if the
    # worker dies), and sets `processed_at` once it is delivered. Other consumers keep cursors of their own.
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)


class AuditRecord(Base):
    """An audit event, chained to the one before it by its hash (core/audit.py). Append-only: the database
    refuses updates and deletes."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(80))  # user:<id>, admin:<id>, operator <name>, system
    action: Mapped[str] = mapped_column(String(60), index=True)  # 2fa.failed, order.placed, withdrawal.approved, ...
    subject: Mapped[str] = mapped_column(String(120))  # what it was done to (an order's id, say)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)  # what else is worth knowing, and why
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    """The chain's last link, one row, locked while a row is added: the chain stays a single line."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class UserLimits(Base):
    """An admin's limits for one investor, tighter (or looser) than the platform's settings; None: the setting."""

    __tablename__ = "user_limits"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    orders_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_order_notional: Mapped[Decimal | None] = mapped_column(FixedDecimal(10), nullable=True)
    withdrawal_daily_limit: Mapped[Decimal | None] = mapped_column(FixedDecimal(10), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationSetting(Base):
    """A user's choice for one kind of notification: on, silent or off (no row: the kind's default)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)  # broadcast, ...
    mode: Mapped[str] = mapped_column(String(8))  # on, silent, off
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class JobLease(Base):
    """A periodic job shared by several worker processes: the one that claims it (FOR UPDATE SKIP LOCKED) runs
    it until `held_until`, then sets when it is next due. A worker that dies lets its lease lapse."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    held_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    held_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
