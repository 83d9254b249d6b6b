"""The composition root: the one place that builds the platform's parts from settings and wires them together.

Called inside the running event loop (never at import time). Tests and simulations pass their own clock and id
generator; everything else reads the same objects from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.app import build_application, polling
from bot.context import OmnibotApplication
from bot.notifier import Notifier
from bot.services import Broker, Services
from broker.connection import IBConnection
from broker.market_data import MarketData
from broker.omnibus import OmnibusAccount
from broker.orders import Trading
from broker.router import Router
from copytrade.desk import CopyDesk
from core.clock import Clock, SystemClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database
from core.ids import IdGenerator, Uuid7Generator


@dataclass
class Platform:
    settings: Settings
    clock: Clock
    ids: IdGenerator
    db: Database

    def field_cipher(self) -> FieldCipher:
        """The keys for personal data; raises ConfigurationError naming the missing setting."""
        return FieldCipher.from_settings(self.settings)

    async def close(self) -> None:
        await self.db.dispose()


def bootstrap(
    settings: Settings | None = None, *, clock: Clock | None = None, ids: IdGenerator | None = None
) -> Platform:
    settings = settings or Settings()
    clock = clock or SystemClock()
    ids = ids or Uuid7Generator(clock)
    return Platform(settings, clock, ids, Database.from_settings(settings, clock=clock, ids=ids))


@dataclass
class Running:
    """Everything of a running platform: the broker's parts, the bot and its notifier."""

    services: Services
    application: OmnibotApplication
    notifier: Notifier


@asynccontextmanager
async def running(platform: Platform, *, token: str, base_url: str) -> AsyncIterator[Running]:
    """Start the IB connection, the router, the bot (long polling) and the notifier, all on this event loop;
    stop them in reverse order when the block exits."""
    settings, clock, db = platform.settings, platform.clock, platform.db
    connection = IBConnection(settings, clock)
    market = MarketData(connection, clock)
    router = Router(db, connection, settings, clock, OmnibusAccount(connection))
    trading = Trading(db, market, settings, wake_router=router.wake, send_block=router.send)
    copies = CopyDesk(db, settings, market, wake_router=router.wake)
    router.follow_fills(copies)
    broker = Broker(trading, market, connection, router, copies)
    services = Services(settings, db, clock, platform.field_cipher(), broker)
    application = build_application(services, token, base_url)
    notifier = Notifier(services, application.bot)
    await connection.start()
    router.start()
    copies.start()
    try:
        async with polling(application):
            notifier.start()
            try:
                yield Running(services, application, notifier)
            finally:
                await notifier.stop()
    finally:
        await copies.stop()
        await router.stop()
        await connection.stop()
