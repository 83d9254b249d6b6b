"""The simulated gateway: a TCP server holding one omnibus account, serving several API clients at once, with a
control surface for tests and the demo (prices, halts, outages, restarts, what the next order meets)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from .account import Account
from .contracts import Catalog, Listing
from .market import Market, Quote
from .orders import Execution, Plan, SimOrder
from .session import ClientSession
from .trading import Desk

log = logging.getLogger("ibsim")

CONNECTIVITY_LOST = 1100, "Connectivity between IB and Trader Workstation has been lost."
RESTORED_DATA_LOST = 1101, "Connectivity between IB and Trader Workstation has been restored - data lost."
RESTORED_DATA_KEPT = 1102, "Connectivity between IB and Trader Workstation has been restored - data maintained."


def _utc_now() -> datetime:
    return datetime.now(UTC)


class GatewaySimulator:
    """An IB Gateway stand-in. `start()` listens; each connection becomes a ClientSession."""

    def __init__(
        self,
        *,
        account: str = "DU1234567",
        cash: Decimal = Decimal("1000000"),
        seed: int = 0,
        clock: Callable[[], datetime] = _utc_now,
        step_seconds: float = 0.25,
        auto_step: bool = True,
        daily_volatility: float = 0.02,
        pacing_limit: int = 50,
        catalog: Catalog | None = None,
    ) -> None:
        self.clock = clock
        self.catalog = catalog or Catalog.bundled()
        self.market = Market(self.catalog, seed=seed, daily_volatility=daily_volatility, step_seconds=step_seconds)
        self.account = Account(account, cash)
        self.desk = Desk(self.catalog, self.market, self.account, self, clock)
        self.step_seconds, self.auto_step, self.pacing_limit = step_seconds, auto_step, pacing_limit
        self.market_data_subscribed = True  # False: live data needs a subscription the account lacks (error 354)
        self.connected_to_ib = True  # False between a 1100 and the 1101 or 1102 that ends it
        self.clients: dict[int, ClientSession] = {}
        self.sessions_opened = 0  # every connection ever accepted (how many clients tried)
        self._sessions: dict[ClientSession, asyncio.Task[None]] = {}
        self._server: asyncio.Server | None = None
        self._address = ("127.0.0.1", 0)
        self._ticker: asyncio.Task[None] | None = None
        self._outage: asyncio.Task[None] | None = None

    @property
    def next_order_id(self) -> int:
        return self.desk.highest_order_id + 1

    @property
    def port(self) -> int:
        if self._server is None:
            return self._address[1]
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str = "127.0.0.1", port: int = 4002) -> None:
        await self._listen(host, port)
        if self.auto_step and self._ticker is None:
            self._ticker = asyncio.create_task(self._tick_forever(), name="ibsim market")
        log.info("IB Gateway simulator listening on %s:%d, account %s", host, self.port, self.account.code)

    async def stop(self) -> None:
        """Stop listening and hang up on every client, waiting until each connection has ended."""
        for task in (self._ticker, self._outage):
            if task is not None:
                task.cancel()
        self._ticker = self._outage = None
        await self._close_listener()

    # ---- control: the gateway and its connection to IB

    def drop_clients(self) -> None:
        """Hang up on every client, as a gateway does when it restarts."""
        for session in list(self._sessions):
            session.close()

    async def restart(self, down_for: float) -> None:
        """A gateway restart: every client dropped and connections refused for `down_for` seconds. Orders live
        on at IB meanwhile (they may fill); a client that comes back recovers them."""
        host, port = self._address[0], self.port
        await self._close_listener()
        await asyncio.sleep(down_for)
        await self._listen(host, port)

    def refuse_connections(self, seconds: float) -> None:
        """`restart` in the background (for the admin endpoint)."""
        self._outage = asyncio.create_task(self.restart(seconds), name="ibsim restart")

    def connectivity_lost(self) -> None:
        """The gateway lost IB (error 1100): no market data and no fills until connectivity is restored."""
        self.connected_to_ib = False
        self._broadcast_error(*CONNECTIVITY_LOST)

    def connectivity_restored(self, *, data_lost: bool) -> None:
        """1101 (market data subscriptions lost: clients must subscribe again) or 1102 (kept)."""
        self.connected_to_ib = True
        if data_lost:
            for session in self.clients.values():
                session.market_data.clear()
        self._broadcast_error(*(RESTORED_DATA_LOST if data_lost else RESTORED_DATA_KEPT))

    # ---- control: the market and the orders

    def listing(self, symbol: str) -> Listing:
        listing = self.catalog.by_symbol(symbol)
        if listing is None:
            raise KeyError(f"the simulator does not list {symbol!r}")
        return listing

    def quote(self, symbol: str) -> Quote:
        return self.market.quote(self.listing(symbol).con_id)

    def positions(self) -> dict[str, Decimal]:
        """The account's positions by symbol."""
        return {
            listing.symbol: holding.quantity
            for con_id, holding in self.account.positions()
            if (listing := self.catalog.by_con_id(con_id)) is not None
        }

    def set_price(self, symbol: str, price: Decimal) -> Quote:
        quote = self.market.set_price(self.listing(symbol).con_id, price)
        self.desk.match_all()
        self.publish()
        return quote

    def halt(self, symbol: str, halted: bool = True) -> None:
        """Halt (or resume) trading in a symbol: its quote stands still and its orders wait."""
        quote = self.quote(symbol)
        quote.halted = halted
        for session in self.clients.values():
            session.halted_changed(quote)
        if not halted:
            self.desk.match_all()
            self.publish()

    def plan_next_order(
        self, *, slices: list[Decimal] | None = None, reject: str = "", commission: str = "after"
    ) -> None:
        """What the next order placed meets: fills in these slices, a rejection, or its commission reports sent
        "before" the executions or "withheld" (reported only when the client asks for executions again)."""
        if commission not in ("after", "before", "withheld"):
            raise ValueError(f"unknown commission plan {commission!r}")
        self.desk.next_plan = Plan(list(slices or []), reject, commission)

    def step(self) -> None:
        """One market step: prices move, resting orders that the quote reaches fill, subscribers hear of it."""
        if not self.connected_to_ib:
            return
        self.market.step()
        self.desk.match_all()
        self.publish()

    def end_session(self) -> None:
        """The trading day ends: open DAY orders expire (cancelled by the system); GTC orders rest on."""
        self.desk.expire_day_orders()

    def correct_execution(self, exec_id: str, price: Decimal) -> Execution:
        return self.desk.correct(exec_id, price)

    def resend_execution(self, exec_id: str) -> None:
        """Send an execution and its commission report to its client again, as IB sometimes does."""
        fill = next(e for e in self.desk.executions if e.exec_id == exec_id)
        self.executed(fill)
        self.commission_reported(fill)

    def publish(self) -> None:
        """Send every quote change to the clients that subscribed to it."""
        for quote in self.market.quotes.values():
            if quote.changed:
                for session in self.clients.values():
                    session.quote_changed(quote)
                quote.changed.clear()

    # ---- the desk's outbox: each event to the client it concerns

    def order_changed(self, order: SimOrder, *, with_open_order: bool) -> None:
        if session := self.clients.get(order.client_id):
            session.order_changed(order, with_open_order=with_open_order)

    def executed(self, fill: Execution) -> None:
        if session := self.clients.get(fill.order.client_id):
            session.executed(-1, fill)

    def commission_reported(self, fill: Execution) -> None:
        if not fill.commission_withheld and (session := self.clients.get(fill.order.client_id)):
            session.commission_reported(fill)

    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        if session := self.clients.get(client_id):
            session.error(order_id, code, text)

    def what_if(self, order: SimOrder, figures: tuple[str, ...]) -> None:
        if session := self.clients.get(order.client_id):
            session.what_if(order, figures)

    def account_changed(self, con_id: int) -> None:
        for session in self.clients.values():
            session.account_changed(con_id)

    # ---- the server

    def claim_client_id(self, client_id: int, session: ClientSession) -> bool:
        """Register the client id, unless another live connection uses it (as a real gateway refuses)."""
        if client_id in self.clients:
            return False
        self.clients[client_id] = session
        return True

    async def _listen(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        self._address = (host, self.port)

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_clients()
        if self._sessions:
            await asyncio.wait(list(self._sessions.values()), timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ClientSession(self, reader, writer)
        self.sessions_opened += 1
        task = asyncio.current_task()
        assert task is not None
        self._sessions[session] = task
        try:
            await session.run()
        finally:
            self._sessions.pop(session, None)
            if session.client_id is not None and self.clients.get(session.client_id) is session:
                del self.clients[session.client_id]

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.step_seconds)
            try:
                self.step()
            except Exception:  # a bug in one step must not stop the market for good
                log.exception("market step failed")

    def _broadcast_error(self, code: int, text: str) -> None:
        for session in self.clients.values():
            session.error(-1, code, text)
