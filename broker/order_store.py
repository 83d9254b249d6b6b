"""The broker's SQL: orders, their transitions, blocks and executions. Core statements on the unit of work's
connection (block fills touch thousands of orders at once: one statement each, not one per order)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Table, func, insert, select, update

from core.bulk import insert_rows, update_rows
from core.db import UnitOfWork
from core.sql import in_list
from ledger.accounts import Holder

from .events import OrderFilled
from .models import Block, BlockExecution, Order, OrderTransition
from .order_states import OrderSide, OrderStatus, OrderType, TimeInForce

ORDERS: Table = Order.__table__  # type: ignore[assignment]
TRANSITIONS: Table = OrderTransition.__table__  # type: ignore[assignment]
BLOCKS: Table = Block.__table__  # type: ignore[assignment]
EXECUTIONS: Table = BlockExecution.__table__  # type: ignore[assignment]
LIVE = [status.value for status in OrderStatus if status.is_live]


@dataclass(frozen=True)
class OrderRecord:
    id: UUID
    owner_id: UUID
    client_key: str
    con_id: int
    side: OrderSide
    order_type: OrderType
    tif: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None
    status: OrderStatus
    filled_quantity: Decimal
    filled_gross: Decimal
    commission: Decimal
    hold_id: UUID | None
    block_id: UUID | None
    reason: str
    cancel_requested_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sleeve_id: UUID | None = None  # the sleeve whose cash and shares it trades (a copy's); None: the investor's own

    @property
    def holder(self) -> Holder:
        return Holder(self.owner_id, self.sleeve_id)

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal | None:
        return None if not self.filled_quantity else self.filled_gross / self.filled_quantity


@dataclass(frozen=True)
class BlockRecord:
    id: UUID
    con_id: int
    side: OrderSide
    order_type: OrderType
    tif: TimeInForce
    limit_price: Decimal | None
    status: OrderStatus
    quantity: Decimal
    filled_quantity: Decimal
    filled_gross: Decimal
    executions: int
    route_at: datetime
    routed_at: datetime | None
    ib_order_id: int | None
    perm_id: int | None
    reason: str
    created_at: datetime
    updated_at: datetime

    @property
    def order_ref(self) -> str:
        return str(self.id)


_ORDER_FIELDS = [field.name for field in fields(OrderRecord)]
_BLOCK_FIELDS = [field.name for field in fields(BlockRecord)]


_ENUMS = {"side": OrderSide, "order_type": OrderType, "tif": TimeInForce, "status": OrderStatus}


def _order(row: Row[Any]) -> OrderRecord:
    return OrderRecord(**_values(row, _ORDER_FIELDS))


def _block(row: Row[Any]) -> BlockRecord:
    return BlockRecord(**_values(row, _BLOCK_FIELDS))


def _values(row: Row[Any], names: list[str]) -> dict[str, Any]:
    """The row's columns for a record, the enums' stored values turned back into their members."""
    values = row._mapping
    return {name: _ENUMS[name](values[name]) if name in _ENUMS else values[name] for name in names}


def _row_of(record: OrderRecord | BlockRecord) -> dict[str, Any]:
    return {field.name: getattr(record, field.name) for field in fields(record)}


# ---- orders


async def insert_order(uow: UnitOfWork, order: OrderRecord) -> None:
    await uow.connection.execute(insert(ORDERS), _row_of(order))
    await record_transitions(uow, [(order.id, None, order.status, "")], order.created_at)


async def insert_orders(uow: UnitOfWork, orders: Sequence[OrderRecord]) -> None:
    """New orders (all created at the same moment), in a few statements whatever their number."""
    if orders:
        await insert_rows(uow, ORDERS, [_row_of(order) for order in orders])
        await record_transitions(uow, [(o.id, None, o.status, "") for o in orders], orders[0].created_at)


async def order_by_key(uow: UnitOfWork, owner_id: UUID, client_key: str) -> OrderRecord | None:
    query = select(ORDERS).where(ORDERS.c.owner_id == owner_id, ORDERS.c.client_key == client_key)
    row = (await uow.connection.execute(query)).one_or_none()
    return None if row is None else _order(row)


async def order_by_id(uow: UnitOfWork, order_id: UUID, *, lock: bool = False) -> OrderRecord | None:
    query = select(ORDERS).where(ORDERS.c.id == order_id)
    row = (await uow.connection.execute(query.with_for_update() if lock else query)).one_or_none()
    return None if row is None else _order(row)


async def orders_of_block(uow: UnitOfWork, block_id: UUID, *, lock: bool = False) -> list[OrderRecord]:
    """The block's orders in id (arrival) order: the order positions the allocation's rotation counts on."""
    query = select(ORDERS).where(ORDERS.c.block_id == block_id).order_by(ORDERS.c.id)
    return [_order(row) for row in await uow.connection.execute(query.with_for_update() if lock else query)]


async def orders_of(uow: UnitOfWork, owner_id: UUID, *, live: bool, limit: int) -> list[OrderRecord]:
    query = select(ORDERS).where(ORDERS.c.owner_id == owner_id)
    if live:
        query = query.where(ORDERS.c.status.in_(LIVE))
    query = query.order_by(ORDERS.c.created_at.desc(), ORDERS.c.id.desc()).limit(limit)
    return [_order(row) for row in await uow.connection.execute(query)]


async def all_live_orders(uow: UnitOfWork) -> list[OrderRecord]:
    query = select(ORDERS).where(ORDERS.c.status.in_(LIVE)).order_by(ORDERS.c.created_at)
    return [_order(row) for row in await uow.connection.execute(query)]


async def live_orders_of_sleeve(uow: UnitOfWork, sleeve_id: UUID) -> list[OrderRecord]:
    query = select(ORDERS).where(ORDERS.c.sleeve_id == sleeve_id, ORDERS.c.status.in_(LIVE))
    return [_order(row) for row in await uow.connection.execute(query.order_by(ORDERS.c.id))]


async def orders_created_since(uow: UnitOfWork, owner_id: UUID, since: datetime) -> list[datetime]:
    query = (
        select(ORDERS.c.created_at)
        .where(ORDERS.c.owner_id == owner_id, ORDERS.c.created_at > since)
        .order_by(ORDERS.c.created_at)
    )
    return list((await uow.connection.execute(query)).scalars())


_MUTABLE = ("status", "filled_quantity", "filled_gross", "commission", "reason", "cancel_requested_at", "updated_at")


async def save_orders(uow: UnitOfWork, orders: Sequence[OrderRecord]) -> None:
    """Write the orders' mutable fields (status, fills, reason), one statement for all."""
    await update_rows(uow, ORDERS, [{"id": o.id} | {name: getattr(o, name) for name in _MUTABLE} for o in orders])


async def record_transitions(
    uow: UnitOfWork, steps: Iterable[tuple[UUID, OrderStatus | None, OrderStatus, str]], at: datetime
) -> None:
    rows = [
        {"order_id": order_id, "from_status": old, "to_status": new, "at": at, "detail": detail[:300]}
        for order_id, old, new, detail in steps
    ]
    await insert_rows(uow, TRANSITIONS, rows)


async def transitions_of(uow: UnitOfWork, order_id: UUID) -> list[tuple[OrderStatus | None, OrderStatus, datetime]]:
    query = select(TRANSITIONS).where(TRANSITIONS.c.order_id == order_id).order_by(TRANSITIONS.c.id)
    return [
        (OrderStatus(row.from_status) if row.from_status else None, OrderStatus(row.to_status), row.at)
        for row in await uow.connection.execute(query)
    ]


# ---- blocks


async def collecting_block(
    uow: UnitOfWork,
    con_id: int,
    side: OrderSide,
    order_type: OrderType,
    tif: TimeInForce,
    limit: Decimal | None,
    now: datetime,
) -> BlockRecord | None:
    """A block of this kind still collecting orders (its window open, not yet routed), share-locked: orders
    join it side by side, while the router, which locks it for update to route it, waits for them to commit."""
    query = select(BLOCKS).where(
        BLOCKS.c.con_id == con_id,
        BLOCKS.c.side == side.value,
        BLOCKS.c.order_type == order_type.value,
        BLOCKS.c.tif == tif.value,
        BLOCKS.c.limit_price.is_(None) if limit is None else BLOCKS.c.limit_price == limit,
        BLOCKS.c.status == OrderStatus.NEW.value,
        BLOCKS.c.routed_at.is_(None),
        BLOCKS.c.route_at > now,
    )
    collecting = query.order_by(BLOCKS.c.route_at).limit(1).with_for_update(read=True)
    row = (await uow.connection.execute(collecting)).first()
    return None if row is None else _block(row)


async def insert_block(uow: UnitOfWork, block: BlockRecord) -> None:
    await uow.connection.execute(insert(BLOCKS), _row_of(block))


async def block_by_id(uow: UnitOfWork, block_id: UUID, *, lock: bool = False) -> BlockRecord | None:
    query = select(BLOCKS).where(BLOCKS.c.id == block_id)
    row = (await uow.connection.execute(query.with_for_update() if lock else query)).one_or_none()
    return None if row is None else _block(row)


async def save_block(uow: UnitOfWork, block: BlockRecord) -> None:
    values = _row_of(block)
    values.pop("id")
    await uow.connection.execute(update(BLOCKS).where(BLOCKS.c.id == block.id).values(**values))


async def blocks_due(uow: UnitOfWork, now: datetime) -> list[BlockRecord]:
    """Blocks whose window has closed and that have not been routed, locked (skipped when another process
    holds them)."""
    query = (
        select(BLOCKS)
        .where(BLOCKS.c.status == OrderStatus.NEW.value, BLOCKS.c.routed_at.is_(None), BLOCKS.c.route_at <= now)
        .order_by(BLOCKS.c.route_at)
        .with_for_update(skip_locked=True)
    )
    return [_block(row) for row in await uow.connection.execute(query)]


async def next_route_at(uow: UnitOfWork) -> datetime | None:
    query = select(func.min(BLOCKS.c.route_at)).where(
        BLOCKS.c.status == OrderStatus.NEW.value, BLOCKS.c.routed_at.is_(None)
    )
    found: datetime | None = (await uow.connection.execute(query)).scalar_one_or_none()
    return found


async def routed_live_blocks(uow: UnitOfWork) -> list[BlockRecord]:
    query = select(BLOCKS).where(BLOCKS.c.status.in_(LIVE), BLOCKS.c.routed_at.is_not(None)).order_by(BLOCKS.c.id)
    return [_block(row) for row in await uow.connection.execute(query)]


async def executions_booked(uow: UnitOfWork, exec_ids: Sequence[str]) -> set[str]:
    query = select(EXECUTIONS.c.exec_id).where(in_list(EXECUTIONS.c.exec_id, "ids"))
    return set((await uow.connection.execute(query, {"ids": list(exec_ids)})).scalars()) if exec_ids else set()


async def execution_booked(uow: UnitOfWork, exec_id: str) -> bool:
    query = select(EXECUTIONS.c.exec_id).where(EXECUTIONS.c.exec_id == exec_id)
    return (await uow.connection.execute(query)).first() is not None


async def insert_execution(uow: UnitOfWork, block_id: UUID, fill: OrderFilled, to_house: Decimal) -> None:
    """Record IB's execution as booked (once: its id is the key), with the shares beyond the block's orders."""
    values = {"exec_id": fill.exec_id, "block_id": block_id, "quantity": fill.quantity, "price": fill.price}
    values |= {"commission": fill.commission, "to_house": to_house, "executed_at": fill.at}
    await uow.connection.execute(insert(EXECUTIONS), values | {"booked_at": uow.clock.now()})
