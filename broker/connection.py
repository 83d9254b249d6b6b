"""The one shared IB connection (ib_async, `*Async` methods only, on the platform's event loop).

It connects with a fixed client id and reconnects with jittered exponential backoff. After every (re)connect it
first recovers (IB's executions, open and completed orders) and only then lets new orders out. ib_async's events
become our frozen dataclasses (`broker.translation`, each told once), delivered in order to subscribers by one
dispatcher task. Across a restart of Omnibot the recovery tells the day's fills again: consumers book by exec id.

ib_async's own throttle, set to short windows, keeps every outgoing message under the configured rate (IB refuses
past 50 a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from ib_async import IB, Fill, LimitOrder, MarketOrder, Order, Stock, Trade
from ib_async import Contract as IBContract

from core.clock import Clock
from core.config import Settings
from core.errors import BrokerUnavailable
from ledger.money import from_broker_float

from .events import BrokerEvent, BrokerStatus, ConnectionChanged, ConnectionState, ExecutionSeen, OrderTicket
from .link_health import LinkHealth
from .translation import NOT_ERRORS, EventTranslator

log = logging.getLogger("omnibot.broker")

Subscriber = Callable[[BrokerEvent], Awaitable[None]]
CONNECTIVITY_LOST, RESTORED_DATA_LOST, RESTORED_DATA_KEPT = 1100, 1101, 1102


class IBConnection:
    def __init__(self, settings: Settings, clock: Clock, *, rng: random.Random | None = None) -> None:
        self._settings, self._clock = settings, clock
        self._rng = rng or random.Random()
        self.ib = IB()
        # ib_async throttles by a sliding window. A window of a whole second lets 45 messages leave at once, and the
        # gateway, which counts them as it reads them, can see that burst's tail and the next one inside one second
        # (error 100). Small windows (5 messages per 1/9 s for 45 a second) keep any burst short.
        rate = settings.ib_max_messages_per_second
        burst = max(1, rate // 9)
        self.ib.client.MaxRequests = burst
        self.ib.client.RequestsInterval = burst / rate  # type: ignore[assignment]  # ib_async declares an int
        self._state = ConnectionState.DISCONNECTED
        self._last_error: str | None = None
        self._connected_since: datetime | None = None
        self._throttling = False
        self._recovery: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._lost = asyncio.Event()
        self._subscribers: list[Subscriber] = []
        self._outbox: asyncio.Queue[BrokerEvent] = asyncio.Queue()
        self._trades: dict[str, Trade] = {}  # by order_ref
        self._sending: dict[str, asyncio.Future[int]] = {}  # placements under way, by order_ref
        self._translator = EventTranslator(
            self._outbox.put_nowait,
            clock,
            fetch_executions=self._fetch_executions,
            may_fetch=self._ready.is_set,
            commission_wait=settings.ib_commission_wait_seconds,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._contracts: dict[int, IBContract] = {}
        self._grace: asyncio.Task[None] | None = None
        self.ib.orderStatusEvent += self._on_status
        self.ib.execDetailsEvent += lambda _trade, fill: self._translator.fill(fill)
        self.ib.commissionReportEvent += self._translator.commission
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.client.throttleStart += lambda: setattr(self, "_throttling", True)
        self.ib.client.throttleEnd += lambda: setattr(self, "_throttling", False)
        self.market_data_resubscribe: Callable[..., None] = lambda *, dropped: None  # set by the market data
        self.health = LinkHealth(self.ib)

    # ---- lifecycle

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep_connected(), name="ib connection"),
            asyncio.create_task(self._dispatch(), name="ib events"),
            asyncio.create_task(self.health.run(), name="ib traffic"),
        ]

    async def stop(self) -> None:
        self._translator.stop()
        for task in [*self._tasks, self._grace, self._recovery]:
            if task is not None:
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.ib.disconnect()

    async def wait_ready(self, within: float | None = None) -> None:
        if self._ready.is_set():
            return
        try:
            await asyncio.wait_for(self._ready.wait(), within or self._settings.ib_connect_timeout_seconds)
        except TimeoutError:
            raise BrokerUnavailable(f"IB connection {self._state}: {self._last_error or 'not ready'}") from None

    @property
    def account(self) -> str:
        return self._settings.ib_account or next(iter(self.ib.managedAccounts()), "")

    @property
    def state(self) -> ConnectionState:
        return self._state

    def status(self) -> BrokerStatus:
        stats = self.ib.client.connectionStats() if self.ib.isConnected() else None
        return BrokerStatus(
            state=self._state,
            last_error=self._last_error,
            connected_since=self._connected_since,
            messages_sent=stats.numMsgSent if stats else 0,
            traffic=self.health.traffic(),
            throttling=self._throttling,
            orders_in_flight=sum(1 for trade in self.ib.openTrades() if trade.order.orderRef),
        )

    async def _keep_connected(self) -> None:
        settings, backoff = self._settings, self._settings.ib_reconnect_min_seconds
        while True:
            self._set_state(ConnectionState.CONNECTING)
            try:
                await self.ib.connectAsync(
                    settings.ib_host,
                    settings.ib_port,
                    clientId=settings.ib_client_id,
                    timeout=settings.ib_connect_timeout_seconds,
                    account=settings.ib_account,
                )
                self._lost.clear()
                self._connected_since = self._clock.now()
                self.ib.reqMarketDataType(settings.ib_market_data_type)
                self.market_data_resubscribe(dropped=False)  # a new connection has no subscriptions
                await self._recover()
            except (OSError, TimeoutError, ConnectionError) as exc:
                self._last_error = f"connect to {settings.ib_host}:{settings.ib_port} failed: {exc!r}"
                log.warning("%s; retrying in %.1f s", self._last_error, backoff)
                self.ib.disconnect()
                await asyncio.sleep(backoff * (0.5 + self._rng.random()))
                backoff = min(backoff * 2, settings.ib_reconnect_max_seconds)
                continue
            backoff = settings.ib_reconnect_min_seconds
            await self._lost.wait()

    async def _recover(self) -> None:
        """Read IB's view (executions, open and completed orders) and tell what happened while we were away;
        only then are new orders let out."""
        self._ready.clear()
        self._set_state(ConnectionState.RECOVERING)
        await self.ib.reqExecutionsAsync()
        await self.ib.reqOpenOrdersAsync()
        await self.ib.reqCompletedOrdersAsync(apiOnly=True)
        for trade in self.ib.trades():
            self._on_status(trade)
        for fill in self.ib.fills():
            self._translator.fill(fill)
        self._set_state(ConnectionState.READY)
        self._ready.set()

    def _set_state(self, state: ConnectionState, detail: str = "") -> None:
        if state != self._state:
            self._state = state
            self._outbox.put_nowait(ConnectionChanged(state, self._clock.now(), detail or self._last_error or ""))

    async def _dispatch(self) -> None:
        while True:
            event = await self._outbox.get()
            for subscriber in self._subscribers:
                try:
                    await subscriber(event)
                except Exception:  # one subscriber's bug must not starve the others of fills
                    log.exception("broker event subscriber failed on %s", event)

    # ---- orders

    def find_trade(self, order_ref: str) -> Trade | None:
        return self._trades.get(order_ref)

    async def place(self, ticket: OrderTicket) -> int:
        """Send the order unless IB already has one with this order_ref (after a crash, say); IB's order id.
        Two calls for one order_ref at once (the router resuming while a block goes out) send it once."""
        if existing := self.find_trade(ticket.order_ref):
            return int(existing.order.orderId)
        sending = self._sending.get(ticket.order_ref)
        if sending is None:
            sending = self._sending[ticket.order_ref] = asyncio.ensure_future(self._place(ticket))
            sending.add_done_callback(lambda _done: self._sending.pop(ticket.order_ref, None))
        return await asyncio.shield(sending)

    async def _place(self, ticket: OrderTicket) -> int:
        await self.wait_ready()
        if existing := self.find_trade(ticket.order_ref):  # IB's recovery, while we waited, found it placed
            return int(existing.order.orderId)
        order: Order
        common: dict[str, Any] = {"orderRef": ticket.order_ref, "tif": ticket.tif, "account": self.account}
        if ticket.limit_price is None:
            order = MarketOrder(ticket.side, float(ticket.quantity), **common)
        else:
            order = LimitOrder(ticket.side, float(ticket.quantity), float(ticket.limit_price), **common)
        trade = self._trades[ticket.order_ref] = self.ib.placeOrder(await self._contract(ticket.con_id), order)
        return int(trade.order.orderId)

    async def _contract(self, con_id: int) -> IBContract:
        """The contract qualified once per instrument, so fills carry its symbol; an unknown conId is sent as is
        and IB rejects the order with its own code (200)."""
        if con_id not in self._contracts:
            contract = Stock(conId=con_id, exchange="SMART", currency="USD")
            [qualified] = await self.ib.qualifyContractsAsync(contract)
            if not isinstance(qualified, IBContract):
                return contract
            self._contracts[con_id] = qualified
        return self._contracts[con_id]

    def _live_trade(self, order_ref: str) -> Trade | None:
        trade = self.find_trade(order_ref)
        return None if trade is None or trade.isDone() else trade

    def cancel(self, order_ref: str) -> bool:
        """Ask IB to cancel the order; False when IB has no live order by that reference."""
        if (trade := self._live_trade(order_ref)) is None:
            return False
        if trade.orderStatus.status != "PendingCancel":  # asked already (before a takeover, say): not twice
            self.ib.cancelOrder(trade.order)
        return True

    def quantity_at_ib(self, order_ref: str) -> Decimal | None:
        """The total quantity of IB's live order by that reference, or None when IB has none live."""
        trade = self._live_trade(order_ref)
        return None if trade is None else Decimal(repr(trade.order.totalQuantity))

    def reduce(self, order_ref: str, quantity: Decimal) -> bool:
        """Ask IB to lower the live order's total quantity (a modify); False when IB has no live order by that
        reference. Shares IB fills before the modify lands are still reported, and must be accounted for."""
        if (trade := self._live_trade(order_ref)) is None:
            return False
        trade.order.totalQuantity = float(quantity)
        self.ib.placeOrder(trade.contract, trade.order)
        return True

    # ---- ib_async's events

    def _on_status(self, trade: Trade) -> None:
        if trade.order.orderRef:
            self._trades.setdefault(trade.order.orderRef, trade)
        self._translator.order_status(trade)

    async def executions(self) -> list[ExecutionSeen]:
        """Every execution IB reports for the account today (its own and any placed outside the platform)."""
        await self.wait_ready()
        return [
            ExecutionSeen(
                fill.execution.execId,
                fill.execution.orderRef or "",
                fill.contract.conId,
                from_broker_float(fill.execution.shares) * (1 if fill.execution.side == "BOT" else -1),
                fill.execution.time,
            )
            for fill in await self._fetch_executions()
            if not self.account or fill.execution.acctNumber in ("", self.account)
        ]

    async def _fetch_executions(self) -> list[Fill]:
        await self.ib.reqExecutionsAsync()
        return self.ib.fills()

    def _on_error(self, req_id: int, code: int, text: str, _contract: object = None) -> None:
        if code == CONNECTIVITY_LOST:
            if self._recovery is not None:
                self._recovery.cancel()  # a recovery from an earlier loss must not say ready after this one
            self._ready.clear()
            self._last_error = f"IB error {code}: {text}"
            self._set_state(ConnectionState.IB_UNREACHABLE, text)
            self._grace = asyncio.create_task(self._reconnect_unless_restored(), name="ib connectivity grace")
        elif code in (RESTORED_DATA_LOST, RESTORED_DATA_KEPT):
            if self._grace is not None:
                self._grace.cancel()
            if code == RESTORED_DATA_LOST:
                self.market_data_resubscribe(dropped=True)
            self._recovery = asyncio.create_task(self._recover(), name="ib recovery")
        elif code not in NOT_ERRORS and not 2100 <= code < 2200:
            self._last_error = f"IB error {code} (request {req_id}): {text}"

    async def _reconnect_unless_restored(self) -> None:
        await asyncio.sleep(self._settings.ib_connectivity_grace_seconds)
        log.warning("IB connectivity not restored within the grace period: reconnecting")
        self.ib.disconnect()

    def _on_disconnected(self) -> None:
        self._ready.clear()
        self._lost.set()
        self._set_state(ConnectionState.DISCONNECTED)
