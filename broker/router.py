"""The router: sends blocks to IB when their collection window closes and applies what IB says of them.

- Routing is written before it is done: a block is marked routed in one transaction, then sent. A crash in
  between leaves a block marked routed that IB never saw; after every (re)connect, once the connection has
  recovered IB's view, such blocks are sent again (IB's order is found by orderRef first, so nothing goes twice).
- A large block (notional at or above `trading_whatif_notional`) is first checked with IB's what-if for the
  omnibus account; if IB says the account cannot carry it, its orders are rejected before anything is sent.
- Only the elected broker process routes (broker/leadership.py): each claim checks that its term still holds.
- IB's events arrive in order from the connection's dispatcher; each is applied in its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Protocol
from uuid import UUID

from core import logs, metrics
from core.clock import Clock
from core.config import Settings
from core.db import Database, UnitOfWork
from core.errors import BrokerRequestFailed, BrokerUnavailable
from ledger.money import ZERO, product

from . import fills, margin_service
from . import order_store as store
from .connection import IBConnection
from .events import (
    BrokerEvent,
    ConnectionChanged,
    ConnectionState,
    OrderAcknowledged,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderTicket,
)
from .leadership import still_leads
from .leaving import before_sending, leave_block
from .omnibus import OmnibusAccount
from .order_states import OrderSide, OrderStatus, TimeInForce
from .order_store import BlockRecord

log = logging.getLogger("omnibot.broker")
IDLE_WAIT = 5.0  # seconds between looks for due blocks when nothing wakes the router
STALE_ROUTED = timedelta(seconds=10)  # a block routed this long ago that IB has no order for was lost on its way


class FillFollower(Protocol):
    """Whoever acts on booked fills (copy trading): told in the fill's own transaction, so that nothing it
    records is lost or written without the fill, and again once that transaction has committed."""

    async def on_fill(self, uow: UnitOfWork, booked: fills.BookedFill) -> None: ...

    def fill_committed(self) -> None: ...


class Router:
    def __init__(
        self,
        db: Database,
        connection: IBConnection,
        settings: Settings,
        clock: Clock,
        omnibus: OmnibusAccount | None = None,
        *,
        epoch: int | None = None,
        before_routing: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._db, self._connection, self._settings, self._clock = db, connection, settings, clock
        self._omnibus = omnibus
        self._epoch = epoch  # the broker's term (broker/leadership.py): blocks are claimed only while it lasts
        # Run after IB's recovery at every (re)connect, before any order goes out (the elected process's
        # reconciliation): until it has run, the router routes nothing.
        self._before_routing = before_routing
        self._may_route = before_routing is None
        self._followers: list[FillFollower] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sent_at: dict[str, float] = {}  # order_ref -> when it went to IB (perf_counter), until IB's ack
        connection.subscribe(self._on_event)

    def start(self) -> None:
        self._task = asyncio.create_task(self._route_loop(), name="block router")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def follow_fills(self, follower: FillFollower) -> None:
        self._followers.append(follower)

    def wake(self) -> None:
        """A new block may be waiting: look again when its window closes."""
        self._wakeup.set()

    async def _route_loop(self) -> None:
        swept = self._clock.now()
        while True:
            try:
                await self.route_due()
                ready = self._may_route and self._connection.state is ConnectionState.READY
                if ready and self._clock.now() - swept > STALE_ROUTED:
                    swept = self._clock.now()
                    await self._resend_stale()
                due = await self._db.transact(store.next_route_at, readonly=True)
            except Exception:  # the loop must outlive a bad moment (database restart, say): log and go on
                log.exception("routing failed; trying again")
                due = None
            wait = IDLE_WAIT if due is None else max(0.0, (due - self._clock.now()).total_seconds())
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=wait)

    async def route_due(self) -> list[BlockRecord]:
        """Send every block whose window has closed; the blocks sent."""
        if self._connection.state is not ConnectionState.READY or not self._may_route:
            return []  # they go when the connection is back (resume)
        blocks = await self._db.transact(self._claim_due)
        for block in blocks:
            await self._send(block)
        return blocks

    async def _claim_due(self, uow: UnitOfWork) -> list[BlockRecord]:
        """Mark the due blocks routed, each asking IB for what its live orders want; a block that every order
        left before routing ends cancelled, and nothing is sent."""
        claimed, now = [], uow.clock.now()
        if self._epoch is not None and not await still_leads(uow, self._epoch):
            log.warning("another process leads the broker now: this one routes nothing")
            return []
        for block in await store.blocks_due(uow, now):
            live = [o for o in await store.orders_of_block(uow, block.id) if o.status.is_live]
            quantity = sum((o.quantity for o in live), ZERO)
            if not quantity:
                await store.save_block(uow, replace(block, status=OrderStatus.CANCELLED, updated_at=now))
                continue
            routed = replace(block, quantity=quantity, routed_at=now, updated_at=now)
            await store.save_block(uow, routed)
            claimed.append(routed)
        return claimed

    async def send(self, block: BlockRecord) -> None:
        """Send a block already marked routed in the database (claimed at birth, when there is no window);
        before the router may route, `resume` sends it."""
        if self._may_route:
            await self._send(block)

    async def _send(self, block: BlockRecord) -> None:
        ticket = OrderTicket(
            block.order_ref,
            block.con_id,
            "BUY" if block.side is OrderSide.BUY else "SELL",
            block.quantity,
            block.limit_price,
            "GTC" if block.tif is TimeInForce.GTC else "DAY",
        )
        try:
            if not await self._omnibus_can_carry(block, ticket):
                return
            self._sent_at.setdefault(block.order_ref, time.perf_counter())
            await self._connection.place(ticket)
        except (BrokerUnavailable, BrokerRequestFailed) as exc:
            log.warning("block %s not sent (%s); it goes when the connection is back", block.id, exc)

    async def _omnibus_can_carry(self, block: BlockRecord, ticket: OrderTicket) -> bool:
        if self._omnibus is None or block.side is OrderSide.SELL:
            return True
        price = block.limit_price
        if price is None:
            return True  # a market block's notional was capped per order already; IB's own check applies
        if product(block.quantity, price) < self._settings.trading_whatif_notional:
            return True
        impact = await self._omnibus.what_if(ticket)
        if impact.initial_after <= impact.equity_with_loan_after:
            return True
        reason = "the omnibus account cannot carry this order now (IB what-if)"
        log.error("block %s refused: %s (%s)", block.id, reason, impact)
        await self._db.transact(lambda uow: fills.end_block(uow, block.id, OrderStatus.REJECTED, reason))
        return False

    async def resume(self) -> None:
        """After a (re)connect and IB's recovery: reconcile (if asked to), then send what was marked routed but
        never reached IB, and act on the cancels asked meanwhile."""
        if self._before_routing is not None:
            try:
                await self._before_routing()
            except Exception:  # a failed look must not keep the platform from trading: it is logged, and retried
                log.exception("the look before routing failed; routing all the same")
            self._may_route = True
        for block in await self._db.transact(store.routed_live_blocks, readonly=True):
            await self._settle_with_ib(block)
        await self.route_due()

    async def _settle_with_ib(self, block: BlockRecord) -> None:
        """Bring a routed block and IB's order for it into line. One IB never saw: the orders that asked to
        leave leave it first, then it is sent (or ends, when nobody stayed). One IB has: the cancels asked
        meanwhile reach IB, and IB's quantity is brought down to ours (a reduce lost while IB was away)."""
        if self._connection.find_trade(block.order_ref) is None and block.ib_order_id is None:
            unsent = await self._db.transact(lambda uow: before_sending(uow, block.id))
            if unsent is not None:
                log.info("block %s was routed but IB has no order for it: sending it now", block.id)
                await self._send(unsent)
            return
        await self.cancel_requested(block.id)
        now = await self._db.transact(lambda uow: store.block_by_id(uow, block.id), readonly=True)
        at_ib = self._connection.quantity_at_ib(block.order_ref)
        if now is not None and not now.status.is_terminal and at_ib is not None and at_ib > now.quantity:
            self._connection.reduce(block.order_ref, now.quantity)

    async def _resend_stale(self) -> None:
        """Blocks marked routed long ago that IB has no order for (a send lost with a process, say): settled and
        sent, as at a reconnect. The connection never sends one order_ref twice."""
        before = self._clock.now() - STALE_ROUTED
        for block in await self._db.transact(store.routed_live_blocks, readonly=True):
            routed_at = block.routed_at
            if routed_at is not None and routed_at < before and self._connection.find_trade(block.order_ref) is None:
                await self._settle_with_ib(block)

    async def cancel_requested(self, block_id: UUID) -> None:
        """Orders of a routed block asked to be cancelled: cancel IB's order when nobody is left in it, else
        lower its quantity and end the leaving orders now (shares filled meanwhile go to the house). Before the
        router may route (IB's recovery and the reconciliation not done), it waits for `resume`."""
        if not self._may_route:
            return
        action = await self._db.transact(lambda uow: leave_block(uow, block_id))
        if action is None:
            return
        block, remaining = action
        if remaining is None:
            self._connection.cancel(block.order_ref)
        else:
            self._connection.reduce(block.order_ref, remaining)

    async def _on_event(self, event: BrokerEvent) -> None:
        order_ref = getattr(event, "order_ref", None)
        with logs.bound(block_id=order_ref):
            await self._apply(event)

    async def _apply(self, event: BrokerEvent) -> None:
        if isinstance(event, OrderAcknowledged):
            sent = self._sent_at.pop(event.order_ref, None)
            if sent is not None:
                metrics.IB_ACK_SECONDS.observe(time.perf_counter() - sent)
            await self._db.transact(lambda uow: fills.acknowledge(uow, event))
        elif isinstance(event, OrderFilled):
            started = time.perf_counter()
            if await self._db.transact(lambda uow: self._book(uow, event)):
                metrics.FILL_BOOK_SECONDS.observe(time.perf_counter() - started)
                metrics.FILLS.inc()
                for follower in self._followers:
                    follower.fill_committed()
        elif isinstance(event, OrderCancelled):
            self._sent_at.pop(event.order_ref, None)
            await self._db.transact(lambda uow: self._ended_by_ib(uow, event.order_ref))
        elif isinstance(event, OrderRejected):
            self._sent_at.pop(event.order_ref, None)
            reason = f"IB refused the order ({event.code}): {event.text}"
            await self._end(event.order_ref, OrderStatus.REJECTED, reason)
        elif isinstance(event, ConnectionChanged) and event.state is ConnectionState.READY:
            await self.resume()
        elif isinstance(event, ConnectionChanged) and self._before_routing is not None:
            self._may_route = False

    async def _book(self, uow: UnitOfWork, fill: OrderFilled) -> bool:
        """Book the fill, tell of any margin investor it left below maintenance (at the fill's price), and let
        whoever follows fills (copy trading) act on it, in the same transaction; whether it was booked now."""
        booked = await fills.book_fill(uow, fill)
        if booked is None:
            return False
        await margin_service.watch_maintenance(uow, self._settings, booked.owners, {fill.con_id: fill.price})
        for follower in self._followers:
            await follower.on_fill(uow, booked)
        return True

    async def _end(self, order_ref: str, outcome: OrderStatus, reason: str) -> None:
        block_id = fills.block_id_of(order_ref)
        if block_id is not None:
            await self._db.transact(lambda uow: fills.end_block(uow, block_id, outcome, reason))
            metrics.ORDERS_ENDED.labels(outcome.value).inc()

    async def _ended_by_ib(self, uow: UnitOfWork, order_ref: str) -> None:
        """IB cancelled the block: at our request, at the end of the day (a DAY order expires), or on its own."""
        block_id = fills.block_id_of(order_ref)
        block = block_id and await store.block_by_id(uow, block_id)
        if not block:
            return
        orders = await store.orders_of_block(uow, block.id)
        if any(o.cancel_requested_at is not None for o in orders if o.status.is_live):
            outcome, reason = OrderStatus.CANCELLED, "cancelled by the investor"
        elif block.tif is TimeInForce.DAY:
            outcome, reason = OrderStatus.EXPIRED, "the trading day ended before it filled"
        else:
            outcome, reason = OrderStatus.CANCELLED, "cancelled by IB"
        await fills.end_block(uow, block.id, outcome, reason)
        metrics.ORDERS_ENDED.labels(outcome.value).inc()
