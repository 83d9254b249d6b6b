"""Placing and cancelling investors' orders: `Trading.place_order` runs the pre-trade checks, holds the cash or
shares and records the order (NEW) in a block, all in one transaction; the router sends the block to IB when
its window closes. Orders are idempotent by the caller's key: the same key gives back the same order.

Market facts (is the symbol tradable, what does it cost now) are asked of the broker before the transaction,
so no database lock waits on the network.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from core import audit, logs, metrics, two_factor, user_service
from core.config import Settings
from core.db import Database, UnitOfWork
from core.errors import (
    AccountNotActive,
    DomainError,
    InsufficientBuyingPower,
    InsufficientShares,
    NotFound,
    NotTradable,
    OrderNotCancellable,
    OrderTooLarge,
    TooManyOrders,
    TradingHalted,
    TwoFactorNotEnrolled,
)
from core.limits import limits_of
from core.pending_actions import Spend
from core.users import UserStatus
from ledger.accounts import AccountKind, Asset, Holder
from ledger.credit import extend_credit
from ledger.instruments import ensure_instrument
from ledger.money import CENT, ZERO, product
from ledger.service import get_hold, open_account, place_hold

from . import margin_service
from . import order_store as store
from .events import Contract, Quote
from .fills import end_orders
from .halts import KILL_SWITCH, halts_for
from .margin import AccountType, HypotheticalOrder, check_order, figures
from .order_requests import Market, OrderPreview, OrderRequest, instrument_of, same_request
from .order_states import OrderSide, OrderStatus, OrderType
from .order_store import BlockRecord, OrderRecord
from .pricing import buy_hold, check_collar, estimated_commission, limit_price, reference_price, whole_shares

RATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class _Checked:
    request: OrderRequest
    contract: Contract
    quote: Quote
    quantity: Decimal
    limit: Decimal | None
    reference: Decimal


class Trading:
    def __init__(
        self,
        db: Database,
        market: Market,
        settings: Settings,
        *,
        wake_router: Callable[[], None] = lambda: None,
        send_block: Callable[[BlockRecord], Awaitable[None]] | None = None,
    ) -> None:
        self._db, self._market, self._settings, self._wake_router = db, market, settings, wake_router
        # With no block window, an order's block is routed in the order's own transaction and sent at once,
        # without waiting for the router's next round.
        self._send_block = send_block if settings.trading_block_window_ms == 0 else None
        self._recorded: set[int] = set()  # instruments this process has seen committed to the database

    async def place_order(self, request: OrderRequest, *, spending: Spend | None = None) -> OrderRecord:
        """Place the order once per client key; `spending` runs in the order's own transaction, before it is
        written (a chat confirmation taken: the order and the tap that asked for it are both, or neither)."""
        try:
            checked = await self._checked(request)
        except DomainError:  # a repeat of a request that went through is answered with its order, come what may
            existing = await self._db.transact(
                lambda uow: store.order_by_key(uow, request.owner_id, request.client_key), readonly=True
            )
            if existing is None:
                raise
            return same_request(existing, request)
        order, block = await self._db.transact(lambda uow: self._place(uow, checked, spending))
        logs.bind(order_id=order.id)
        metrics.ORDERS.labels(order.side.value).inc()
        self._recorded.add(checked.contract.con_id)
        if block is not None and self._send_block is not None:
            await self._send_block(block)
        else:
            self._wake_router()
        return order

    async def preview(self, request: OrderRequest) -> OrderPreview:
        """What the order would do, by a dry run: every check of a real order, its hold, and the investor's
        buying power before and after, in a transaction that is then rolled back. Refusals are the same."""
        checked = await self._checked(request)
        marks = {checked.contract.con_id: checked.reference}
        async with self._db.unit_of_work() as uow:  # never committed
            policy = await margin_service.policy(uow, self._settings)
            before = figures(await margin_service.margin_account(uow, request.owner_id, marks), policy)
            order, _block = await self._place(uow, checked)
            assert order.hold_id is not None
            held = (await get_hold(uow, order.hold_id)).amount
            after = figures(await margin_service.margin_account(uow, request.owner_id, marks), policy)
        commission = estimated_commission(checked.quantity, checked.reference)
        return OrderPreview(
            checked.contract,
            checked.quote,
            request.side,
            checked.quantity,
            checked.limit,
            checked.reference,
            held if request.side is OrderSide.BUY else product(checked.quantity, checked.reference) - commission,
            commission,
            before.buying_power,
            after.buying_power,
        )

    async def _checked(self, request: OrderRequest) -> _Checked:
        """The request's numbers validated and its market facts fetched, before any transaction."""
        quantity = whole_shares(request.quantity)
        limit = None if request.limit_price is None else limit_price(request.limit_price)
        contract = await self._market.qualify(request.symbol)
        if contract is None:
            raise NotTradable(request.symbol.upper(), "the broker knows no US stock or ETF by this symbol")
        quote = await self._market.quote(contract.con_id)
        reference = limit if limit is not None else reference_price(quote, request.side, contract.symbol)
        return _Checked(request, contract, quote, quantity, limit, reference)

    async def _place(
        self, uow: UnitOfWork, checked: _Checked, spending: Spend | None = None
    ) -> tuple[OrderRecord, BlockRecord | None]:
        """The order, and its block when the block is to be sent at once (routed at birth)."""
        request, settings, now = checked.request, self._settings, uow.clock.now()
        existing = await store.order_by_key(uow, request.owner_id, request.client_key)
        if existing is not None:  # a repeat, or a concurrent delivery of the same request that got here first
            return same_request(existing, request), None
        if spending is not None:  # first: a second tap racing this one waits on its row lock, then finds it spent
            await spending(uow)
        mine = await limits_of(uow, settings, request.owner_id)
        await self._check_investor(uow, request.owner_id, checked.contract, mine.orders_per_minute)
        notional = product(checked.quantity, checked.reference)
        if notional > mine.max_order_notional:
            raise OrderTooLarge(notional.quantize(Decimal("0.01")), mine.max_order_notional)
        if checked.limit is not None:
            check_collar(checked.limit, checked.quote.last or checked.quote.close, settings.trading_price_collar_pct)
        if checked.contract.con_id not in self._recorded:  # instruments are never deleted: once is enough
            await ensure_instrument(uow, instrument_of(checked.contract))

        order_id = uow.ids.new_id()
        hold = await self._hold(uow, order_id, checked)
        order_type = OrderType.MARKET if checked.limit is None else OrderType.LIMIT
        block = await self._join_block(uow, checked, order_type)
        order = OrderRecord(
            id=order_id,
            owner_id=request.owner_id,
            client_key=request.client_key[:100],
            con_id=checked.contract.con_id,
            side=request.side,
            order_type=order_type,
            tif=request.tif,
            quantity=checked.quantity,
            limit_price=checked.limit,
            status=OrderStatus.NEW,
            filled_quantity=ZERO,
            filled_gross=ZERO,
            commission=ZERO,
            hold_id=hold,
            block_id=block.id,
            reason="",
            cancel_requested_at=None,
            created_at=now,
            updated_at=now,
            sleeve_id=request.sleeve_id,
        )
        await store.insert_order(uow, order)
        await audit.record(
            uow, f"user:{order.owner_id}", "order.placed", order.id, side=order.side.value,
            symbol=checked.contract.symbol, quantity=order.quantity, limit=order.limit_price, sleeve=order.sleeve_id,
        )  # fmt: skip
        return order, block if block.routed_at is not None else None

    async def _check_investor(self, uow: UnitOfWork, owner_id: UUID, contract: Contract, per_minute: int) -> None:
        user = await user_service.get_user(uow, owner_id)
        if user.status is not UserStatus.ACTIVE:
            raise AccountNotActive(user.status.value)
        if not await two_factor.is_enrolled(uow, owner_id):
            raise TwoFactorNotEnrolled(owner_id)
        for con_id, reason in await halts_for(uow, contract.con_id):
            raise TradingHalted(None if con_id == KILL_SWITCH else contract.symbol, reason)
        now = uow.clock.now()
        recent = await store.orders_created_since(uow, owner_id, now - RATE_WINDOW)
        if len(recent) >= per_minute:
            wait = recent[-per_minute] + RATE_WINDOW - now
            raise TooManyOrders(per_minute, max(1, math.ceil(wait.total_seconds())))

    async def _hold(self, uow: UnitOfWork, order_id: UUID, checked: _Checked) -> UUID:
        """Set aside what the order may take: the estimated cost of a buy, the shares of a sale."""
        request, key = checked.request, f"order/{order_id}"
        holder = Holder(request.owner_id, request.sleeve_id)
        if request.side is OrderSide.SELL:
            position = await open_account(uow, *holder.shares(checked.contract.con_id))
            if checked.quantity > position.available:
                raise InsufficientShares(checked.contract.symbol, checked.quantity, max(ZERO, position.available))
            hold = await place_hold(
                uow, position.id, checked.quantity, key=key, reason=f"sell {checked.contract.symbol}"
            )
            return hold.id
        market = checked.limit is None
        amount = buy_hold(
            checked.quantity, checked.reference, market=market, buffer_pct=self._settings.trading_market_buffer_pct
        )
        if request.sleeve_id is not None:  # a sleeve buys with its own cash, never on credit
            cash = await open_account(uow, *holder.cash())
            if amount > cash.available:
                raise InsufficientBuyingPower(amount, max(ZERO, cash.available))
            return (await place_hold(uow, cash.id, amount, key=key, reason=f"buy {checked.contract.symbol}")).id
        worst = amount - estimated_commission(checked.quantity, checked.reference)
        account = await margin_service.margin_account(
            uow, request.owner_id, {checked.contract.con_id: checked.reference}
        )
        policy = await margin_service.policy(uow, self._settings)
        order = HypotheticalOrder(
            checked.contract.con_id, True, checked.quantity, worst / checked.quantity, amount - worst
        )
        check = check_order(account, order, policy)
        cash = await open_account(uow, AccountKind.INVESTOR_CASH, Asset.cash("USD"), request.owner_id)
        margin = account.account_type is AccountType.MARGIN
        if not check.fits or (not margin and amount > cash.available):
            raise InsufficientBuyingPower(amount, check.before.buying_power.quantize(CENT))
        if margin:  # the part beyond the investor's cash is lent by the house, within its capacity
            await extend_credit(uow, cash, amount, policy.lending_capacity)
        hold = await place_hold(uow, cash.id, amount, key=key, reason=f"buy {checked.contract.symbol}")
        return hold.id

    async def _join_block(self, uow: UnitOfWork, checked: _Checked, order_type: OrderType) -> BlockRecord:
        request, now = checked.request, uow.clock.now()
        born_routed = self._send_block is not None  # with no window, no block is ever collecting
        if not born_routed:
            block = await store.collecting_block(
                uow, checked.contract.con_id, request.side, order_type, request.tif, checked.limit, now
            )
            if block is not None:
                return block  # its quantity is counted when it is routed (see Router._claim_due)
        block = BlockRecord(
            id=uow.ids.new_id(),
            con_id=checked.contract.con_id,
            side=request.side,
            order_type=order_type,
            tif=request.tif,
            limit_price=checked.limit,
            status=OrderStatus.NEW,
            quantity=checked.quantity,
            filled_quantity=ZERO,
            filled_gross=ZERO,
            executions=0,
            route_at=now + timedelta(milliseconds=self._settings.trading_block_window_ms),
            routed_at=now if born_routed else None,
            ib_order_id=None,
            perm_id=None,
            reason="",
            created_at=now,
            updated_at=now,
        )
        await store.insert_block(uow, block)
        return block

    async def cancel_order(self, owner_id: UUID, order_id: UUID) -> tuple[OrderRecord, UUID | None]:
        """Cancel the investor's order. Before routing it simply leaves its block; after, the cancel is asked of
        IB and the second value names the block the router must act on."""
        return await self._db.transact(lambda uow: self._cancel(uow, owner_id, order_id))

    async def _cancel(self, uow: UnitOfWork, owner_id: UUID, order_id: UUID) -> tuple[OrderRecord, UUID | None]:
        order = await store.order_by_id(uow, order_id, lock=True)
        if order is None or order.owner_id != owner_id:
            raise NotFound("order", order_id)
        if order.status.is_terminal:
            raise OrderNotCancellable(order.id, order.status.value)
        if order.cancel_requested_at is not None:
            return order, order.block_id
        # Locked: the router cannot route the block between this look at it and the commit.
        block = await store.block_by_id(uow, order.block_id, lock=True) if order.block_id else None
        if block is None or block.routed_at is None:  # it leaves the block; the router counts only live orders
            await end_orders(uow, [order], OrderStatus.CANCELLED, "cancelled by the investor")
            await audit.record(uow, f"user:{owner_id}", "order.cancelled", order.id)  # last: the chain's lock
            return replace(order, status=OrderStatus.CANCELLED), None
        await audit.record(uow, f"user:{owner_id}", "order.cancel_requested", order.id)
        requested = replace(order, cancel_requested_at=uow.clock.now())
        await store.save_orders(uow, [requested])
        return requested, block.id

    async def open_orders(self, owner_id: UUID, limit: int = 50) -> list[OrderRecord]:
        return await self._db.transact(
            lambda uow: store.orders_of(uow, owner_id, live=True, limit=limit), readonly=True
        )

    async def recent_orders(self, owner_id: UUID, limit: int = 20) -> list[OrderRecord]:
        return await self._db.transact(
            lambda uow: store.orders_of(uow, owner_id, live=False, limit=limit), readonly=True
        )
