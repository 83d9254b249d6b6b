"""What IB tells of a block, applied to its orders and the investors' books, each in one transaction:

- acknowledged: the block and its new orders are SUBMITTED;
- an execution: allocated to the orders (`allocation`), booked in one ledger entry (`ledger.block_trades`), the
  orders' fills and states updated, sale proceeds set to settle T+1, events written to the outbox; booked once
  per execution id. An order that completes gives back what its hold has left, in the same entry. When the
  block ends after more than one execution, every order is brought to the block's average price;
- ended (cancelled, expired, rejected): the live orders end with it, keeping what was filled, and their holds
  are released.

A correction of an execution already booked (IB's `.02` after `.01`) is not booked again: it is recorded and
told to the admins (topic broker.correction) for review, since it changes what investors were told.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal
from uuid import UUID

from core.calendar import settlement_date
from core.db import UnitOfWork
from core.outbox import Message, publish
from ledger.accounts import Holder
from ledger.block_trades import (
    Allocation,
    PriceAdjustment,
    SharedExecution,
    book_price_adjustments,
    book_shared_execution,
)
from ledger.credit import tighten_credit
from ledger.money import CENT, round_cash
from ledger.service import release_holds
from ledger.settlement import Proceeds, record_proceeds
from ledger.trades import TradeSide

from . import order_store as store
from .allocation import allocate_shares, average_price_adjustments, largest_remainder
from .corrections import booked_as_revision
from .events import OrderAcknowledged, OrderFilled
from .order_states import OrderSide, OrderStatus, path, status_after_fill
from .order_store import BlockRecord, OrderRecord

log = logging.getLogger("omnibot.broker")


def block_id_of(order_ref: str) -> UUID | None:
    try:
        return UUID(order_ref)
    except ValueError:
        return None  # not one of our blocks (an order placed by hand in TWS, say)


async def acknowledge(uow: UnitOfWork, event: OrderAcknowledged) -> None:
    block_id = block_id_of(event.order_ref)
    block = block_id and await store.block_by_id(uow, block_id, lock=True)
    if not block:
        return
    now = uow.clock.now()
    block = replace(block, ib_order_id=event.ib_order_id, perm_id=event.perm_id, updated_at=now)
    if block.status is OrderStatus.NEW:
        block = replace(block, status=OrderStatus.SUBMITTED)
    await store.save_block(uow, block)
    orders = [
        order for order in await store.orders_of_block(uow, block.id, lock=True) if order.status is OrderStatus.NEW
    ]
    await _move(uow, orders, [OrderStatus.SUBMITTED] * len(orders), "IB acknowledged")
    shown = [o for o in orders if o.sleeve_id is None]  # a copy's orders have no confirmation message to edit
    await publish(uow, [_message("order.submitted", o, OrderStatus.SUBMITTED, f"submitted/{o.id}") for o in shown])


@dataclass(frozen=True)
class BookedFill:
    """What an execution did to our books: each order it moved (as it is now) with the shares it got, and each
    holder's shares after it (what copy trading mirrors)."""

    fill: OrderFilled
    block: BlockRecord
    orders: list[tuple[OrderRecord, Decimal]]
    positions: dict[Holder, Decimal]

    @property
    def owners(self) -> set[UUID]:
        return {order.owner_id for order, _shares in self.orders}


async def book_fill(uow: UnitOfWork, fill: OrderFilled) -> BookedFill | None:
    """Book the execution into the block's orders (nothing when it was booked before or is not ours)."""
    block_id = block_id_of(fill.order_ref)
    if block_id is None or await store.execution_booked(uow, fill.exec_id):
        return None
    block = await store.block_by_id(uow, block_id, lock=True)
    if block is None:
        log.error("execution %s names block %s, which we do not have", fill.exec_id, fill.order_ref)
        return None
    if await booked_as_revision(uow, block, fill):  # IB's correction of an execution booked before
        return None

    orders = await store.orders_of_block(uow, block.id, lock=True)
    rotation = block.id.int % 2**31 + block.executions
    ordered = [int(o.quantity if o.status.is_live else o.filled_quantity) for o in orders]
    shares = allocate_shares(ordered, [int(o.filled_quantity) for o in orders], int(fill.quantity), rotation)
    to_house = fill.quantity - sum(shares)
    cents = largest_remainder(int(round_cash(fill.commission) / CENT), [*shares, int(to_house)], rotation)
    filled_now = [
        (o, Decimal(q), round_cash(q * fill.price), Decimal(c) * CENT)
        for o, q, c in zip(orders, shares, cents, strict=False)
        if q
    ]
    updated = [
        replace(
            o, filled_quantity=o.filled_quantity + q, filled_gross=o.filled_gross + gross, commission=o.commission + c
        )
        for o, q, gross, c in filled_now
    ]
    targets = [
        status_after_fill(int(o.filled_quantity), int(o.quantity)) if o.status.is_live else o.status for o in updated
    ]
    completed = [
        o for o, target in zip(updated, targets, strict=True) if target is OrderStatus.FILLED and o.status.is_live
    ]
    completing = {o.id for o in completed}
    side = TradeSide.BUY if block.side is OrderSide.BUY else TradeSide.SELL
    booked = await book_shared_execution(
        uow,
        SharedExecution(
            f"fill/{fill.exec_id}",
            block.con_id,
            side,
            fill.quantity,
            fill.price,
            fill.commission,
            [
                Allocation(o.owner_id, q, c, o.hold_id, o.id in completing, o.sleeve_id)
                for o, q, _gross, c in filled_now
            ],
            memo=f"{block.side.value} {fill.quantity} {fill.symbol} @ {fill.price} (block {block.id})",
        ),
    )
    await store.insert_execution(uow, block.id, fill, to_house)
    if to_house:
        log.warning("block %s: %s shares beyond its orders went to the house error account", block.id, to_house)
    await _move(uow, updated, targets, f"filled {fill.quantity} @ {fill.price}")
    await tighten_credit(uow, [o.owner_id for o in updated])  # a sale repays, a completed buy frees its hold
    if side is TradeSide.SELL:
        settles_on = settlement_date(fill.at)
        await record_proceeds(
            uow,
            [Proceeds(f"{fill.exec_id}/{o.id}", o.owner_id, gross - c, settles_on) for o, _q, gross, c in filled_now],
        )
    fill_facts = {"price": str(fill.price)}
    messages = [
        _message(
            "order.filled",
            order,
            target,
            f"filled/{fill.exec_id}/{order.id}",
            fill_facts | {"quantity": str(quantity), "commission": str(commission)},
        )
        for order, target, (_o, quantity, _g, commission) in zip(updated, targets, filled_now, strict=True)
    ]
    messages += [
        _message("order.completed", o, OrderStatus.FILLED, f"completed/{o.id}")
        for o in completed
        if o.sleeve_id is None
    ]  # a copy's orders have no confirmation message to edit: their fill's own message says it all
    await publish(uow, messages)

    filled = block.filled_quantity + fill.quantity
    block = replace(
        block,
        filled_quantity=filled,
        filled_gross=block.filled_gross + fill.quantity * fill.price,
        executions=block.executions + 1,
        updated_at=uow.clock.now(),
    )
    if block.status.is_live:
        target = status_after_fill(int(filled), int(block.quantity))
        block = replace(block, status=(path(block.status, target) or [block.status])[-1])
    await store.save_block(uow, block)
    if block.status is OrderStatus.FILLED:
        await _average_price(uow, block)
    moved = [(order, quantity) for order, (_o, quantity, _g, _c) in zip(updated, filled_now, strict=True)]
    positions = {share.holder: share.position for share in booked.shares if share.position is not None}
    return BookedFill(fill, block, moved, positions)


async def end_block(uow: UnitOfWork, block_id: UUID, outcome: OrderStatus, reason: str) -> BlockRecord | None:
    """IB ended the block (cancelled, expired or rejected it): its live orders end with it."""
    block = await store.block_by_id(uow, block_id, lock=True)
    if block is None or block.status.is_terminal:
        return block
    orders = [o for o in await store.orders_of_block(uow, block.id, lock=True) if o.status.is_live]
    await end_orders(uow, orders, outcome, reason)
    final = OrderStatus.CANCELLED if outcome is OrderStatus.REJECTED and block.filled_quantity else outcome
    block = replace(block, status=final, reason=reason[:300], updated_at=uow.clock.now())
    await store.save_block(uow, block)
    await _average_price(uow, block)
    return block


async def end_orders(uow: UnitOfWork, orders: list[OrderRecord], outcome: OrderStatus, reason: str) -> None:
    """End live orders (keeping what was filled), give back their holds, and tell their owners."""
    targets = [
        OrderStatus.CANCELLED if outcome is OrderStatus.REJECTED and o.filled_quantity else outcome for o in orders
    ]
    ended = [replace(o, reason=reason[:300]) for o in orders]
    await _move(uow, ended, targets, reason)
    await release_holds(uow, [o.hold_id for o in orders if o.hold_id])
    await tighten_credit(uow, [o.owner_id for o in orders])
    await publish(
        uow,
        [
            _message(f"order.{target.value}", o, target, f"{target.value}/{o.id}", {"reason": reason})
            for o, target in zip(ended, targets, strict=True)
        ],
    )


async def _move(uow: UnitOfWork, orders: list[OrderRecord], targets: list[OrderStatus], detail: str) -> None:
    """Save the orders in their target states, recording every step of the way."""
    now = uow.clock.now()
    steps: list[tuple[UUID, OrderStatus | None, OrderStatus, str]] = []
    saved = []
    for order, target in zip(orders, targets, strict=True):
        current = order.status
        for step in path(current, target) if current.is_live else []:
            steps.append((order.id, current, step, detail))
            current = step
        saved.append(replace(order, status=current, updated_at=now))
    await store.save_orders(uow, saved)
    await store.record_transitions(uow, steps, now)


async def _average_price(uow: UnitOfWork, block: BlockRecord) -> None:
    """After more than one execution, bring every order to the block's average price (see allocation)."""
    if block.executions < 2 or not block.filled_quantity:
        return
    orders = [o for o in await store.orders_of_block(uow, block.id) if o.filled_quantity]
    allocated = [int(o.filled_quantity) for o in orders]
    average = block.filled_gross / block.filled_quantity
    amounts = average_price_adjustments([o.filled_gross for o in orders], allocated, average * sum(allocated))
    side = TradeSide.BUY if block.side is OrderSide.BUY else TradeSide.SELL
    adjustments = [PriceAdjustment(o.holder, amount) for o, amount in zip(orders, amounts, strict=True)]
    await book_price_adjustments(uow, f"avgpx/{block.id}", block.con_id, side, adjustments)
    adjusted = [replace(o, filled_gross=o.filled_gross + a) for o, a in zip(orders, amounts, strict=True) if a]
    await store.save_orders(uow, adjusted)
    if side is TradeSide.SELL:
        settles_on = settlement_date(uow.clock.now())
        await record_proceeds(
            uow,
            [
                Proceeds(f"avgpx/{block.id}/{o.id}", o.owner_id, a, settles_on)
                for o, a in zip(orders, amounts, strict=True)
                if a
            ],
        )


def _message(
    topic: str, order: OrderRecord, status: OrderStatus, key: str, extra: dict[str, str] | None = None
) -> Message:
    payload = {
        "order_id": str(order.id),
        "owner_id": str(order.owner_id),
        "con_id": order.con_id,
        "side": order.side.value,
        "status": status.value,
        "ordered": str(order.quantity),
        "limit_price": str(order.limit_price) if order.limit_price is not None else None,
        "filled": str(order.filled_quantity),
        "average_price": str(order.average_price) if order.average_price is not None else None,
        "commission": str(order.commission),
        "sleeve_id": str(order.sleeve_id) if order.sleeve_id else None,
    }
    return Message(topic, key, payload | (extra or {}))
