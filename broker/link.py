"""How every part of a process reaches the broker: through the broker's own parts when this process leads
(holds the IB connection), else through PostgreSQL to the process that does (broker/remote.py). The bot, the
copy desk and the workers see one object either way, and a process that wins or loses the election switches
without anyone noticing but the latency."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from core.db import Database
from core.errors import BrokerRequestFailed
from core.wakeups import Wakeups

from . import order_store as store
from .connection import IBConnection
from .events import BrokerStatus, ConnectionState, Contract, Quote, Traffic
from .leadership import leader
from .market_data import MarketData
from .order_store import BlockRecord
from .reconciler import Reconciler
from .remote import RemoteBroker
from .router import Router
from .wire import contract_json, contract_of, quote_json, quote_of, status_of

HEARTBEAT_LATE = timedelta(seconds=10)  # a leader silent this long is taken for gone
QUOTE_FRESH = 1.0  # seconds a quote asked of the leader is shared by this process's askers


@dataclass
class LocalBroker:
    """The broker's parts in the process that leads."""

    db: Database
    connection: IBConnection
    market: MarketData
    router: Router
    reconciler: Reconciler

    async def status(self) -> BrokerStatus:
        return dataclasses.replace(self.connection.status(), round_trip_ms=await self.connection.health.round_trip_ms())

    async def answer(self, kind: str, argument: str) -> dict[str, Any]:
        """What another process asked (broker/remote.py)."""
        if kind == "qualify":
            return contract_json(await self.market.qualify(argument))
        if kind == "quote":
            return quote_json(await self.market.quote(int(argument)))
        if kind == "send":
            block = await self.db.transact(lambda uow: store.block_by_id(uow, UUID(argument)), readonly=True)
            if block is not None and block.routed_at is not None and not block.status.is_terminal:
                await self.router.send(block)
            return {}
        if kind == "cancel":
            await self.router.cancel_requested(UUID(argument))
            return {}
        if kind == "reconcile":
            return {"open_breaks": len(await self.reconciler.run())}
        raise BrokerRequestFailed(0, f"unknown request {kind!r}")


class BrokerLink:
    def __init__(self, db: Database, wakeups: Wakeups, *, ask_timeout: float = 15.0) -> None:
        self._db, self._wakeups = db, wakeups
        self._remote = RemoteBroker(db, wakeups, timeout=ask_timeout)
        self.local: LocalBroker | None = None  # set while this process leads
        self._contracts: dict[str, Contract] = {}
        self._quotes: dict[int, tuple[float, Quote]] = {}

    # ---- market data (broker.order_requests.Market)

    async def qualify(self, symbol: str) -> Contract | None:
        if self.local is not None:
            return await self.local.market.qualify(symbol)
        key = symbol.strip().upper()
        if key in self._contracts:
            return self._contracts[key]
        contract = contract_of(await self._remote.ask("qualify", key))
        if contract is not None:  # an unknown symbol may be listed tomorrow: asked again then
            self._contracts[key] = contract
        return contract

    async def quote(self, con_id: int) -> Quote:
        if self.local is not None:
            return await self.local.market.quote(con_id)
        taken, known = self._quotes.get(con_id, (0.0, None))
        if known is not None and time.monotonic() - taken < QUOTE_FRESH:
            return known
        quote = quote_of(await self._remote.ask("quote", str(con_id)))
        self._quotes[con_id] = (time.monotonic(), quote)
        return quote

    # ---- orders

    def wake_router(self) -> None:
        """A block may be due: the router looks now, wherever it runs."""
        self._wakeups.wake("router")

    async def send_block(self, block: BlockRecord) -> None:
        """Send a block born routed (no collection window): here when leading, else by the leader."""
        if self.local is not None:
            await self.local.router.send(block)
        else:
            await self._remote.tell("send", str(block.id))

    async def cancel_requested(self, block_id: UUID) -> None:
        """Orders of a routed block asked to leave it: the router acts on IB's order."""
        if self.local is not None:
            await self.local.router.cancel_requested(block_id)
        else:
            await self._remote.tell("cancel", str(block_id))

    # ---- the connection

    async def status(self) -> BrokerStatus:
        """The IB connection as its process sees it (the leader's last heartbeat, from another process)."""
        if self.local is not None:
            return await self.local.status()
        row = await self._db.transact(leader, readonly=True)
        if row is None or self._db.clock.now() - row.heartbeat_at > HEARTBEAT_LATE:
            why = "no broker process is running" if row is None else f"the broker process ({row.holder}) is silent"
            return BrokerStatus(ConnectionState.DISCONNECTED, why, None, 0, Traffic(0.0, 0.0), False, 0)
        return status_of(row.status)

    async def reconcile(self) -> None:
        if self.local is not None:
            await self.local.reconciler.run()
        else:
            await self._remote.ask("reconcile", "")
