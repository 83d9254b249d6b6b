"""The composition root: the one place that builds the platform's parts from settings and wires them together.

Called inside the running event loop (never at import time). Tests and simulations pass their own clock and id
generator; everything else reads the same objects from here.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

from aiohttp import web

from alerts.broker_watch import BrokerWatch
from alerts.desk import AlertDesk
from alerts.risk_watch import RiskWatch
from alerts.watcher import PriceWatcher
from bot.app import build_application, polling
from bot.context import OmnibotApplication
from bot.notifier import Notifier
from bot.services import Broker, Services
from broker import margin_service
from broker.connection import IBConnection
from broker.market_data import MarketData
from broker.omnibus import OmnibusAccount
from broker.orders import Trading
from broker.reconciler import Reconciler
from broker.router import Router
from copytrade.desk import CopyDesk
from core import admins, redaction
from core.clock import Clock, SystemClock
from core.config import Settings, load_settings
from core.crypto import FieldCipher
from core.db import Database, UnitOfWork
from core.ids import IdGenerator, Uuid7Generator
from core.rounds import Rounds
from payments import funding
from payments.desk import PaymentDesk
from payments.providers.base import PaymentProvider
from payments.providers.manual import ManualProvider
from payments.providers.sandbox import SandboxProvider
from payments.providers.webhook import webhook_routes
from reports.daily import DailySummaries


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
    settings = settings or load_settings()
    redaction.install(settings)
    clock = clock or SystemClock()
    ids = ids or Uuid7Generator(clock)
    return Platform(settings, clock, ids, Database.from_settings(settings, clock=clock, ids=ids))


@dataclass
class Running:
    """Everything of a running platform: the broker's parts, the bot and its notifier."""

    services: Services
    application: OmnibotApplication
    notifier: Notifier


async def _money_to_ib(uow: UnitOfWork) -> Decimal:
    return (await funding.in_transit(uow)).to_ib


def payment_provider(settings: Settings) -> PaymentProvider:
    return SandboxProvider(settings) if settings.payments_provider == "sandbox" else ManualProvider()


async def _webhook_site(settings: Settings, payments: PaymentDesk, clock: Clock) -> web.AppRunner | None:
    """The payments webhook (POST /payments/{provider}/events), when a secret is set; behind the operator's
    TLS proxy."""
    if settings.payments_webhook_secret is None:
        return None
    secret = settings.payments_webhook_secret.get_secret_value().encode()
    app = web.Application()
    tolerance = settings.payments_webhook_tolerance_seconds
    app.add_routes(webhook_routes({payments.provider: secret}, payments.apply, clock, tolerance))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, settings.payments_webhook_host, settings.payments_webhook_port).start()
    return runner


@asynccontextmanager
async def running(platform: Platform, *, token: str, base_url: str) -> AsyncIterator[Running]:
    """Start the IB connection, the router, the copy and payment desks (and the payments webhook, when a
    secret is set), the bot (long polling) and the notifier, all on this event loop; stop them in reverse order
    when the block exits."""
    settings, clock, db = platform.settings, platform.clock, platform.db
    connection = IBConnection(settings, clock)
    market = MarketData(connection, clock)
    omnibus = OmnibusAccount(connection)
    router = Router(db, connection, settings, clock, omnibus)
    broker_watch = BrokerWatch(db, settings.alerts_broker_down_seconds)
    connection.subscribe(broker_watch.on_event)
    reconciler = Reconciler(db, connection, omnibus, settings, _money_to_ib)
    reconciling = Rounds("reconciliation", reconciler.run, settings.reconciliation_minutes * 60)
    trading = Trading(db, market, settings, wake_router=router.wake, send_block=router.send)
    copies = CopyDesk(db, settings, market, wake_router=router.wake)
    router.follow_fills(copies)
    watcher = PriceWatcher(db, market, trading.place_order, settings)
    broker = Broker(trading, market, connection, router, copies, AlertDesk(db, market, watcher, settings), reconciler)
    cap = functools.partial(margin_service.withdrawal_cap, db, settings, market)
    payments = PaymentDesk(db, settings, platform.field_cipher(), payment_provider(settings), cap)
    services = Services(settings, db, clock, platform.field_cipher(), broker, payments)
    application = build_application(services, token, base_url)
    notifier = Notifier(services, application.bot)
    await db.transact(lambda uow: admins.grant_configured(uow, settings))  # OMNIBOT_ADMIN_TELEGRAM_IDS
    await connection.start()
    router.start()
    copies.start()
    payments.start()
    reconciling.start()
    await watcher.start()
    risk = RiskWatch(db, market, settings, trading.place_order)
    risk.start()
    summaries = DailySummaries(db)
    summaries.start()
    webhook: web.AppRunner | None = None
    try:
        webhook = await _webhook_site(settings, payments, clock)
        async with polling(application):
            notifier.start()
            try:
                yield Running(services, application, notifier)
            finally:
                await notifier.stop()
    finally:
        if webhook is not None:
            await webhook.cleanup()
        await summaries.stop()
        await risk.stop()
        await watcher.stop()
        await broker_watch.stop()
        await reconciling.stop()
        await payments.stop()
        await copies.stop()
        await router.stop()
        await connection.stop()
