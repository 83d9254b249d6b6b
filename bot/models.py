"""The bot's own tables: which chat message shows which order (so that the message can follow the order), which
users blocked the bot (so that nothing more is sent to them until they write again), and what each user wants
to hear of (notification settings)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base
from core.types import UtcDateTime


class OrderMessage(Base):
    """The confirmation message of an order, edited as the order moves (Submitted, Partially filled, Filled)."""

    __tablename__ = "order_messages"

    order_id: Mapped[UUID] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)


class BlockedChat(Base):
    __tablename__ = "blocked_chats"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    blocked_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SeenUpdate(Base):
    """A Telegram update taken up by some bot process: one delivered again (a webhook retried on another
    process, polling resumed after a crash) is dropped. Kept a day; Telegram reuses ids only after a week."""

    __tablename__ = "seen_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
