"""Orders leaving a routed block (their investors cancelled them): what the database does before IB is told.
Pure database steps, each inside the caller's transaction; the router acts on IB afterwards."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from uuid import UUID

from core.db import UnitOfWork
from ledger.money import ZERO

from . import fills
from . import order_store as store
from .order_states import OrderStatus
from .order_store import BlockRecord


async def leave_block(uow: UnitOfWork, block_id: UUID) -> tuple[BlockRecord, Decimal | None] | None:
    """The orders that asked to leave the live block leave it: None when none did; (block, None) when none
    stays (IB's order is to be cancelled; the orders end when IB says so); else they end now and the block is
    lowered to what the others still want, (block, its new total) for IB's order."""
    block = await store.block_by_id(uow, block_id, lock=True)
    if block is None or block.status.is_terminal:
        return None
    live = [o for o in await store.orders_of_block(uow, block.id, lock=True) if o.status.is_live]
    leaving = [o for o in live if o.cancel_requested_at is not None]
    staying = [o for o in live if o.cancel_requested_at is None]
    if not leaving:
        return None
    if not staying:
        return block, None
    await fills.end_orders(uow, leaving, OrderStatus.CANCELLED, "cancelled by the investor")
    total = block.filled_quantity + sum((o.remaining for o in staying), ZERO)
    reduced = replace(block, quantity=total, updated_at=uow.clock.now())
    await store.save_block(uow, reduced)
    return reduced, total


async def before_sending(uow: UnitOfWork, block_id: UUID) -> BlockRecord | None:
    """A routed block IB never saw, about to be sent: the orders that asked to leave leave it first; it ends
    when nobody stayed. The block to send, or None."""
    left = await leave_block(uow, block_id)
    if left is None:
        block = await store.block_by_id(uow, block_id)
        return block if block is not None and not block.status.is_terminal else None
    block, remaining = left
    if remaining is None:  # everybody left before IB saw it: nothing to send
        await fills.end_block(uow, block.id, OrderStatus.CANCELLED, "cancelled by the investor")
        return None
    return block
