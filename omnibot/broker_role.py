"""The broker role: campaign for the IB connection (broker/leadership.py) and, while this process leads, run
everything that needs it: the connection and its market data, the router (which reconciles before it routes
after every connect), the reconciliation rounds, the answers to other processes' requests, the copy desk (it
follows fills in the fill's own transaction) and the price watcher (it lives on the quote streams). On losing
the lead, all of it stops and the process stands by again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from typing import Any

from alerts.broker_watch import BrokerWatch
from alerts.watcher import PriceWatcher, WatchLink
from broker.connection import IBConnection
from broker.events import ConnectionState
from broker.leadership import Leadership
from broker.link import BrokerLink, LocalBroker
from broker.market_data import MarketData
from broker.omnibus import OmnibusAccount
from broker.orders import Trading
from broker.reconciler import Reconciler
from broker.remote import RequestDesk
from broker.router import Router
from broker.wire import status_json
from copytrade.desk import CopyDesk
from core import metrics
from core.clock import Clock
from core.config import Settings
from core.db import Database, UnitOfWork
from core.rounds import Rounds
from core.wakeups import Wakeups

log = logging.getLogger("omnibot.broker")
RETRY_SECONDS = 2.0  # after a failed term, before campaigning again


class BrokerRole:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        wakeups: Wakeups,
        link: BrokerLink,
        watch: WatchLink,
        copies: CopyDesk,
        trading: Trading,
        money_to_ib: Callable[[UnitOfWork], Awaitable[Decimal]],
    ) -> None:
        self._settings, self._db, self._clock, self._wakeups = settings, db, clock, wakeups
        self._link, self._watch, self._copies, self._trading = link, watch, copies, trading
        self._money_to_ib = money_to_ib
        self.leadership = Leadership(db)
        self._task: asyncio.Task[None] | None = None
        self.leading = asyncio.Event()  # set while this process holds the IB connection

    def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="broker role")

    async def readiness(self) -> tuple[bool, str]:
        """For /readyz: a standby is ready (to take over); a leader when its IB connection is."""
        if self._task is None or self._task.done():
            return False, "the broker role is not running"
        local = self._link.local
        if not self.leading.is_set() or local is None:
            return True, "standing by"
        state = local.connection.state
        return state is ConnectionState.READY, f"leading (epoch {self.leadership.epoch}); IB {state.value}"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _serve(self) -> None:
        while True:
            try:
                epoch = await self.leadership.campaign()
                async with self._term(epoch):
                    self.leading.set()
                    await self.leadership.lost.wait()
                log.warning("this process no longer leads the broker: standing by")
            except Exception:  # a term that failed to start or to end: give the lock back, and campaign again
                log.exception("the broker role failed; giving up the lead and campaigning again")
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                self.leading.clear()
                await self.leadership.resign()

    @asynccontextmanager
    async def _term(self, epoch: int) -> AsyncIterator[None]:
        settings, db, clock, wakeups = self._settings, self._db, self._clock, self._wakeups
        connection = IBConnection(settings, clock)
        market = MarketData(connection, clock)
        omnibus = OmnibusAccount(connection)
        reconciler = Reconciler(db, connection, omnibus, settings, self._money_to_ib)
        router = Router(db, connection, settings, clock, omnibus, epoch=epoch, before_routing=reconciler.run)
        router.follow_fills(self._copies)
        local = LocalBroker(db, connection, market, router, reconciler)
        broker_watch = BrokerWatch(db, settings.alerts_broker_down_seconds)
        connection.subscribe(broker_watch.on_event)
        watcher = PriceWatcher(db, market, self._trading.place_order, settings)
        requests = RequestDesk(db, wakeups, local.answer)
        reconciling = Rounds("reconciliation", reconciler.run, settings.reconciliation_minutes * 60)

        async def report() -> dict[str, Any]:
            status = await local.status()
            metrics.IB_STATE.state(status.state.value)
            metrics.IB_PACING.set(1 if status.throttling else 0)
            metrics.IB_MESSAGES.labels("sent").set(status.traffic.sent_per_second)
            metrics.IB_MESSAGES.labels("received").set(status.traffic.received_per_second)
            return status_json(status)

        async with AsyncExitStack() as stack:
            metrics.LEADING.set(1)
            stack.callback(metrics.LEADING.set, 0)
            stack.callback(metrics.IB_STATE.state, ConnectionState.DISCONNECTED.value)  # a standby has none
            await connection.start()
            stack.push_async_callback(connection.stop)
            self.leadership.report = report
            self._link.local = local
            stack.callback(setattr, self._link, "local", None)
            router.start()
            stack.push_async_callback(router.stop)
            stack.callback(wakeups.on("router", router.wake))
            requests.start()
            stack.push_async_callback(requests.stop)
            self._copies.start()
            stack.push_async_callback(self._copies.stop)
            stack.callback(wakeups.on("copies", self._copies.wake))
            await watcher.start()
            stack.push_async_callback(watcher.stop)
            self._watch.local = watcher
            stack.callback(setattr, self._watch, "local", None)
            stack.callback(wakeups.on("alerts", watcher.resync))
            reconciling.start()
            stack.push_async_callback(reconciling.stop)
            stack.push_async_callback(broker_watch.stop)
            yield
