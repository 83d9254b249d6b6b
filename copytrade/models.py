"""SQLAlchemy models of copy trading: leaders, copies (whose id is also their sleeve's in the ledger), what
each copy has ordered for each of the leader's orders, and the leader's fills waiting to be mirrored."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from broker.order_states import OrderSide
from core.orm import Base, str_enum
from core.types import UtcDateTime
from ledger.money import Amount

from .terms import CopyMode, CopyStatus, LeaderStatus, Sizing

_AUTO_ID = BigInteger().with_variant(Integer(), "sqlite")
_LIVE = text("status <> 'stopped'")


class Leader(Base):
    __tablename__ = "leaders"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(24))  # as the leader wrote it
    alias_key: Mapped[str] = mapped_column(String(24), unique=True)  # lower case: one alias, however written
    description: Mapped[str] = mapped_column(String(200))
    profit_share_pct: Mapped[Decimal] = mapped_column(Amount)  # of copy profit above its high-water mark
    status: Mapped[LeaderStatus] = mapped_column(str_enum(LeaderStatus, "leader_status", 16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Copy(Base):
    """A follower following a leader: alerts only, or copies traded with the copy's own sleeve."""

    __tablename__ = "copies"
    __table_args__ = (
        Index("ix_copies_leader_status", "leader_id", "status"),
        Index("ix_copies_follower_status", "follower_id", "status"),
        # One live copy of a leader per follower.
        Index(
            "uq_copies_live_pair",
            "follower_id",
            "leader_id",
            unique=True,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    follower_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    leader_id: Mapped[UUID] = mapped_column(ForeignKey("leaders.user_id"))
    mode: Mapped[CopyMode] = mapped_column(str_enum(CopyMode, "copy_mode", 8))
    status: Mapped[CopyStatus] = mapped_column(str_enum(CopyStatus, "copy_status", 16))
    sizing: Mapped[Sizing] = mapped_column(str_enum(Sizing, "copy_sizing", 16))
    sizing_value: Mapped[Decimal | None] = mapped_column(Amount, nullable=True)
    max_per_trade: Mapped[Decimal | None] = mapped_column(Amount, nullable=True)
    stop_loss_pct: Mapped[Decimal | None] = mapped_column(Amount, nullable=True)
    take_profit_pct: Mapped[Decimal | None] = mapped_column(Amount, nullable=True)
    invested: Mapped[Decimal] = mapped_column(Amount)  # what the follower put in, net of what was taken back
    high_water_mark: Mapped[Decimal] = mapped_column(Amount)  # the profit on which a profit share was last taken
    stop_reason: Mapped[str] = mapped_column(String(200))
    keep_positions: Mapped[bool] = mapped_column(Boolean)  # on stopping: move its shares to the follower's book
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CopyMirror(Base):
    """How many shares a copy has ordered so far for one of the leader's orders (a leader's order may fill
    in several executions: the copy follows the running total, so rounding down loses no share twice)."""

    __tablename__ = "copy_mirrors"

    copy_id: Mapped[UUID] = mapped_column(ForeignKey("copies.id"), primary_key=True)
    leader_order_id: Mapped[UUID] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    ordered: Mapped[Decimal] = mapped_column(Amount)
    skipped: Mapped[bool] = mapped_column(Boolean)  # the follower was told this order was skipped


class CopySignal(Base):
    """A leader's execution to mirror, written in the transaction that booked it (none is lost), processed
    once (its orders placed in the transaction that marks it processed)."""

    __tablename__ = "copy_signals"

    id: Mapped[int] = mapped_column(_AUTO_ID, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    leader_id: Mapped[UUID] = mapped_column(ForeignKey("leaders.user_id"))
    leader_order_id: Mapped[UUID | None] = mapped_column(ForeignKey("orders.id"), nullable=True)
    copy_id: Mapped[UUID | None] = mapped_column(ForeignKey("copies.id"), nullable=True)  # for one copy only
    con_id: Mapped[int] = mapped_column(ForeignKey("instruments.con_id"))
    side: Mapped[OrderSide] = mapped_column(str_enum(OrderSide, "signal_side", 8))
    price: Mapped[Decimal] = mapped_column(Amount)
    position_before: Mapped[Decimal] = mapped_column(Amount)  # the leader's shares before this execution
    position_after: Mapped[Decimal] = mapped_column(Amount)
    order_quantity: Mapped[Decimal] = mapped_column(Amount)  # the leader's whole order
    order_filled: Mapped[Decimal] = mapped_column(Amount)  # of it, filled so far (this execution included)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
