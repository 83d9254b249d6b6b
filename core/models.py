"""SQLAlchemy models of `core`: users. Personal data is stored sealed (core.crypto), never in plain text."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, encrypted_column, str_enum
from core.types import UtcDateTime
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
