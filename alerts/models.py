"""SQLAlchemy models of the price watch: price alerts and protective orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, str_enum
from core.types import UtcDateTime
from ledger.money import Amount

from .rules import Condition

_ACTIVE = text("status = 'active'")
_OPEN = text("status = 'open'")


class WatchStatus(StrEnum):
    ACTIVE = "active"
    SELLING = "selling"  # a protective order hit: the watcher has claimed it and is placing its sale
    DONE = "done"  # a one-shot alert that fired; a protective order whose sale was placed
    FAILED = "failed"  # a protective order that could not sell (no shares, a halt)
    DELETED = "deleted"  # removed by the investor; a protective order replaced, or cancelled by its sibling


class ProtectKind(StrEnum):
    STOP = "stop"  # sell when the price falls to the trigger
    TARGET = "target"  # sell when the price rises to the trigger


class PriceAlertRow(Base):
    __tablename__ = "price_alerts"
    __table_args__ = (
        Index("ix_price_alerts_status_con_id", "status", "con_id"),
        Index("ix_price_alerts_owner_status", "owner_id", "status"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    con_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("instruments.con_id"))
    condition: Mapped[Condition] = mapped_column(str_enum(Condition, "alert_condition", 8))
    level: Mapped[Decimal] = mapped_column(Amount)
    reference: Mapped[Decimal | None] = mapped_column(Amount)
    repeat: Mapped[bool] = mapped_column(Boolean)
    cooldown_seconds: Mapped[int] = mapped_column(Integer)
    armed: Mapped[bool] = mapped_column(Boolean)
    fired_count: Mapped[int] = mapped_column(Integer)
    last_fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[WatchStatus] = mapped_column(str_enum(WatchStatus, "watch_status", 8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProtectiveOrderRow(Base):
    """A stop or a target on a position: when the price reaches it, the investor's shares are sold at market
    through the normal order flow, as they agreed when they set it. A stop and a target on one position are one
    pair: when one sells, the other is cancelled."""

    __tablename__ = "protective_orders"
    __table_args__ = (
        Index("ix_protective_orders_status_con_id", "status", "con_id"),
        Index(
            "uq_protective_orders_active",
            "owner_id",
            "con_id",
            "kind",
            unique=True,
            postgresql_where=_ACTIVE,
            sqlite_where=_ACTIVE,
        ),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    con_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("instruments.con_id"))
    kind: Mapped[ProtectKind] = mapped_column(str_enum(ProtectKind, "protect_kind", 8))
    trigger: Mapped[Decimal] = mapped_column(Amount)
    quantity: Mapped[Decimal | None] = mapped_column(Amount)  # None: the whole position when it is hit
    status: Mapped[WatchStatus] = mapped_column(str_enum(WatchStatus, "watch_status", 8))
    order_id: Mapped[UUID | None] = mapped_column(ForeignKey("orders.id"))
    note: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MarginCallRow(Base):
    """A margin account found below its maintenance requirement: open until cured (back above), or until the house
    policy acts at the deadline (`margin_call_policy`: notify only, or liquidate)."""

    __tablename__ = "margin_calls"
    __table_args__ = (
        Index("uq_margin_calls_open", "owner_id", unique=True, postgresql_where=_OPEN, sqlite_where=_OPEN),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(12))  # open, cured, liquidated
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
