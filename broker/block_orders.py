"""Many investors' market orders in one instrument and side, placed at once as one block: copy trading's
mirrors of a leader's fill, and its closes. Whatever their number, a few statements: the holds in bulk, the
orders in bulk, one block due at once (the router sends it when woken).

The pre-trade checks are the caller's to choose (who may trade, how much): here only what the books allow.
An order its holder cannot cover (cash for a buy, shares for a sale) is left out and returned as refused;
the others go ahead. A halt of the instrument refuses them all (TradingHalted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.config import Settings
from core.db import UnitOfWork
from core.errors import TradingHalted
from ledger.accounts import AccountSpec, Holder
from ledger.money import ZERO
from ledger.service import HoldRequest, open_accounts, place_holds

from . import order_store as store
from .halts import KILL_SWITCH, halts_for
from .order_states import OrderSide, OrderStatus, OrderType, TimeInForce
from .order_store import BlockRecord, OrderRecord
from .pricing import buy_hold


@dataclass(frozen=True)
class BlockOrder:
    holder: Holder
    quantity: Decimal  # whole shares
    client_key: str  # the caller's idempotency key (unique per investor)


@dataclass(frozen=True)
class PlacedBlock:
    block: BlockRecord | None  # None when no order could be placed
    orders: list[OrderRecord]  # in the order asked for, refused ones left out
    refused: list[BlockOrder]


async def place_market_block(
    uow: UnitOfWork,
    settings: Settings,
    con_id: int,
    symbol: str,
    side: OrderSide,
    wanted: Sequence[BlockOrder],
    price: Decimal | None = None,
) -> PlacedBlock:
    """Place the orders as one block, due now. A buy needs `price`, the reference for its holds (with the
    market buffer, as for any market order); a sale holds shares."""
    for halted, reason in await halts_for(uow, con_id):
        raise TradingHalted(None if halted == KILL_SWITCH else symbol, reason)
    wanted = [order for order in wanted if order.quantity > 0]
    buy = side is OrderSide.BUY
    if buy and price is None:
        raise ValueError("a buy's holds need a reference price")
    specs: list[AccountSpec] = [o.holder.cash() if buy else o.holder.shares(con_id) for o in wanted]
    accounts = await open_accounts(uow, specs)
    ids = [uow.ids.new_id() for _ in wanted]
    buffer = settings.trading_market_buffer_pct
    requests = [
        HoldRequest(
            account.id,
            buy_hold(order.quantity, price, market=True, buffer_pct=buffer) if price and buy else order.quantity,
            f"order/{order_id}",
            f"{side.value} {symbol}",
        )
        for order, account, order_id in zip(wanted, accounts, ids, strict=True)
    ]
    holds = await place_holds(uow, requests)
    placed = [(o, i, h) for o, i, h in zip(wanted, ids, holds, strict=True) if h is not None]
    refused = [o for o, h in zip(wanted, holds, strict=True) if h is None]
    if not placed:
        return PlacedBlock(None, [], refused)
    now = uow.clock.now()
    block = BlockRecord(
        id=uow.ids.new_id(),
        con_id=con_id,
        side=side,
        order_type=OrderType.MARKET,
        tif=TimeInForce.DAY,
        limit_price=None,
        status=OrderStatus.NEW,
        quantity=sum((o.quantity for o, _i, _h in placed), ZERO),
        filled_quantity=ZERO,
        filled_gross=ZERO,
        executions=0,
        route_at=now,
        routed_at=None,
        ib_order_id=None,
        perm_id=None,
        reason="",
        created_at=now,
        updated_at=now,
    )
    await store.insert_block(uow, block)
    orders = [
        OrderRecord(
            id=order_id,
            owner_id=order.holder.owner_id,
            client_key=order.client_key[:100],
            con_id=con_id,
            side=side,
            order_type=OrderType.MARKET,
            tif=TimeInForce.DAY,
            quantity=order.quantity,
            limit_price=None,
            status=OrderStatus.NEW,
            filled_quantity=ZERO,
            filled_gross=ZERO,
            commission=ZERO,
            hold_id=hold.id,
            block_id=block.id,
            reason="",
            cancel_requested_at=None,
            created_at=now,
            updated_at=now,
            sleeve_id=order.holder.sleeve_id,
        )
        for order, order_id, hold in placed
    ]
    await store.insert_orders(uow, orders)
    return PlacedBlock(block, orders, refused)
