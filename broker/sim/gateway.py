"""The simulated gateway: a TCP server holding one omnibus account, serving several API clients at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from .session import ClientSession

log = logging.getLogger("ibsim")


class GatewaySimulator:
    """An IB Gateway stand-in. `start()` listens; each connection becomes a ClientSession."""

    def __init__(
        self,
        *,
        account: str = "DU1234567",
        cash: Decimal = Decimal("1000000"),
        seed: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.account = account
        self.cash = cash
        self.seed = seed
        self.clock = clock
        self.next_order_id = 1
        self.clients: dict[int, ClientSession] = {}
        self._sessions: dict[ClientSession, asyncio.Task[None]] = {}
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str = "127.0.0.1", port: int = 4002) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        log.info("IB Gateway simulator listening on %s:%d, account %s", host, self.port, self.account)

    async def stop(self) -> None:
        """Stop listening and hang up on every client, waiting until each connection has ended."""
        if self._server is not None:
            self._server.close()
        self.drop_clients()
        if self._sessions:
            await asyncio.wait(list(self._sessions.values()), timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def drop_clients(self) -> None:
        """Hang up on every client, as a gateway does when it restarts."""
        for session in list(self._sessions):
            session.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ClientSession(self, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._sessions[session] = task
        try:
            await session.run()
        finally:
            self._sessions.pop(session, None)
            if session.client_id is not None and self.clients.get(session.client_id) is session:
                del self.clients[session.client_id]

    def claim_client_id(self, client_id: int, session: ClientSession) -> bool:
        """Register the client id, unless another live connection uses it (as a real gateway refuses)."""
        if client_id in self.clients:
            return False
        self.clients[client_id] = session
        return True

    def account_values(self) -> list[tuple[str, str, str]]:
        """(key, value, currency) of the account, as reqAccountUpdates reports them."""
        cash = f"{self.cash:.2f}"
        return [
            ("AccountCode", self.account, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("Currency", "USD", "USD"),
            ("CashBalance", cash, "USD"),
            ("CashBalance", cash, "BASE"),
            ("TotalCashValue", cash, "USD"),
            ("NetLiquidation", cash, "USD"),
            ("EquityWithLoanValue", cash, "USD"),
            ("GrossPositionValue", "0.00", "USD"),
            ("AvailableFunds", cash, "USD"),
            ("ExcessLiquidity", cash, "USD"),
            ("BuyingPower", f"{self.cash * 4:.2f}", "USD"),
            ("InitMarginReq", "0.00", "USD"),
            ("MaintMarginReq", "0.00", "USD"),
        ]
