"""SQLAlchemy models of the broker: investors' orders and their history, the block orders sent to IB, the
executions booked from them, trading halts, each investor's trading profile and house margin rules, and how
processes share the one IB connection (the elected broker process, and what others ask of it)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, str_enum
from core.types import UtcDateTime
from ledger.money import Amount

from .margin import AccountType
from .order_states import OrderSide, OrderStatus, OrderType, TimeInForce

_AUTO_ID = BigInteger().with_variant(Integer(), "sqlite")


class Block(Base):
    """One IB order (orderRef = the block's id) carrying one or more investors' orders."""

    __tablename__ = "blocks"
    __table_args__ = (Index("ix_blocks_open", "con_id", "side", "route_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    con_id: Mapped[int] = mapped_column(ForeignKey("instruments.con_id"))
    side: Mapped[OrderSide] = mapped_column(str_enum(OrderSide, "order_side", 8))
    order_type: Mapped[OrderType] = mapped_column(str_enum(OrderType, "order_type", 8))
    tif: Mapped[TimeInForce] = mapped_column(str_enum(TimeInForce, "time_in_force", 8))
    limit_price: Mapped[Decimal | None] = mapped_column(Amount, nullable=True)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, "block_status", 20), index=True)
    quantity: Mapped[Decimal] = mapped_column(Amount)  # what IB is asked for
    filled_quantity: Mapped[Decimal] = mapped_column(Amount)
    filled_gross: Mapped[Decimal] = mapped_column(Amount)  # IB's exact gross over all executions
    executions: Mapped[int] = mapped_column(Integer)
    route_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the collection window closes
    routed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ib_order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    perm_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Order(Base):
    """An investor's order; `client_key` is the caller's idempotency key, unique per investor."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("owner_id", "client_key", name="uq_orders_owner_key"),
        Index("ix_orders_owner_created", "owner_id", "created_at"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    client_key: Mapped[str] = mapped_column(String(100))
    con_id: Mapped[int] = mapped_column(ForeignKey("instruments.con_id"))
    side: Mapped[OrderSide] = mapped_column(str_enum(OrderSide, "order_side", 8))
    order_type: Mapped[OrderType] = mapped_column(str_enum(OrderType, "order_type", 8))
    tif: Mapped[TimeInForce] = mapped_column(str_enum(TimeInForce, "time_in_force", 8))
    quantity: Mapped[Decimal] = mapped_column(Amount)
    limit_price: Mapped[Decimal | None] = mapped_column(Amount, nullable=True)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, "order_status", 20), index=True)
    filled_quantity: Mapped[Decimal] = mapped_column(Amount)
    filled_gross: Mapped[Decimal] = mapped_column(Amount)  # what the investor paid or got, in cents, before commission
    commission: Mapped[Decimal] = mapped_column(Amount)  # the investor's share, in cents
    hold_id: Mapped[UUID | None] = mapped_column(ForeignKey("holds.id"), nullable=True)
    block_id: Mapped[UUID | None] = mapped_column(ForeignKey("blocks.id"), index=True, nullable=True)
    reason: Mapped[str] = mapped_column(String(300))  # why it was rejected, cancelled or expired
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The order trades a sleeve's cash and shares (a copy's), not the investor's own (ledger.accounts.AccountSpec).
    sleeve_id: Mapped[UUID | None] = mapped_column(Uuid, index=True, nullable=True)


class OrderTransition(Base):
    """Every state an order went through, with its time."""

    __tablename__ = "order_transitions"

    id: Mapped[int] = mapped_column(_AUTO_ID, primary_key=True, autoincrement=True)
    order_id: Mapped[UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    from_status: Mapped[OrderStatus | None] = mapped_column(str_enum(OrderStatus, "transition_from", 20), nullable=True)
    to_status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, "transition_to", 20))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    detail: Mapped[str] = mapped_column(String(300))


class BlockExecution(Base):
    """An IB execution of a block, booked once (its ledger entry is keyed by the execution id)."""

    __tablename__ = "block_executions"

    exec_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_id: Mapped[UUID] = mapped_column(ForeignKey("blocks.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Amount)
    price: Mapped[Decimal] = mapped_column(Amount)
    commission: Mapped[Decimal] = mapped_column(Amount)
    to_house: Mapped[Decimal] = mapped_column(Amount)  # shares beyond what the orders wanted
    executed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TradingHalt(Base):
    """Trading stopped for everyone (con_id 0, the kill switch) or for one instrument."""

    __tablename__ = "trading_halts"

    con_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(String(300))
    since: Mapped[datetime] = mapped_column(UtcDateTime)


class TradingProfile(Base):
    """How an investor may trade: a cash or a margin account (cash when there is no row)."""

    __tablename__ = "trading_profiles"

    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    account_type: Mapped[AccountType] = mapped_column(str_enum(AccountType, "account_type", 8))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MarginOverride(Base):
    """The house's own margin rates for one instrument, when stricter than Reg T."""

    __tablename__ = "margin_overrides"

    con_id: Mapped[int] = mapped_column(ForeignKey("instruments.con_id"), primary_key=True, autoincrement=False)
    initial: Mapped[Decimal] = mapped_column(Amount)
    maintenance: Mapped[Decimal] = mapped_column(Amount)
    reason: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BrokerLeader(Base):
    """The broker process that holds the IB connection now (one row). Its epoch grows at every election: a
    process routes orders only while the epoch is its own, so a deposed leader cannot send after its successor
    took over. The leader writes its connection's state here for the processes without one."""

    __tablename__ = "broker_leader"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    epoch: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(200))  # host and process id, for the operator
    elected_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[dict[str, Any]] = mapped_column(JSON)  # the connection as the leader sees it


class BrokerRequest(Base):
    """What a process without the IB connection asks of the broker process (qualify a symbol, a quote, act on
    a cancel, reconcile now), and its answer; the asker is woken by NOTIFY, or reads the row again."""

    __tablename__ = "broker_requests"

    id: Mapped[int] = mapped_column(_AUTO_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    argument: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    taken_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the broker process answering it
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(String(300))
