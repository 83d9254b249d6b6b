"""The composition root: the one place that builds the platform's parts from settings and wires them together.

Called inside the running event loop (never at import time). Tests and simulations pass their own clock and id
generator; everything else reads the same objects from here.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from aiohttp import web

from alerts.desk import AlertDesk
from alerts.leader_watch import LeaderWatch
from alerts.risk_watch import RiskWatch
from alerts.watcher import WatchLink
from bot.app import build_application, build_bot, polling
from bot.context import OmnibotApplication
from bot.notifier import Notifier
from bot.services import Broker, Services
from bot.webhook import by_webhook, telegram_routes
from broker import margin_service
from broker.link import BrokerLink
from broker.orders import Trading
from copytrade.desk import CopyDesk
from core import admins, logs, redaction
from core.clock import Clock, SystemClock
from core.config import Settings, load_settings
from core.crypto import FieldCipher
from core.db import Database, UnitOfWork
from core.errors import ConfigurationError
from core.ids import IdGenerator, Uuid7Generator
from core.leases import Lease
from core.wakeups import Wakeups
from omnibot.broker_role import BrokerRole
from omnibot.http_site import Check, database_check, start_site
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
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    configure_logs: bool = False,
) -> Platform:
    """The platform's parts from settings (the environment's, by default). `configure_logs`: the process's log
    handler as the settings say (the command line's; tests keep their own)."""
    settings = settings or load_settings()
    if configure_logs:
        form = settings.log_format if settings.log_format != "auto" else _auto_form(settings)
        logs.configure(settings.log_level, form)
    redaction.install(settings)
    clock = clock or SystemClock()
    ids = ids or Uuid7Generator(clock)
    return Platform(settings, clock, ids, Database.from_settings(settings, clock=clock, ids=ids))


class Role(StrEnum):
    """What a process runs (docs/operations.md, "Scaling out"). All of them, by default, in one process."""

    ALL = "all"
    BOT = "bot"  # Telegram updates, by long polling or webhook; several behind a load balancer
    BROKER = "broker"  # the IB connection, for the elected one; the others stand by
    WORKER = "worker"  # the notifier and the shared jobs (payments, the risk watch, daily summaries); several

    def runs(self, part: Role) -> bool:
        return self in (part, Role.ALL)


def _auto_form(settings: Settings) -> Literal["json", "text"]:
    return "json" if settings.environment == "production" else "text"


@dataclass
class Running:
    """Everything of a running process: its services, and the parts its role runs (None where it does not)."""

    services: Services
    application: OmnibotApplication | None
    notifier: Notifier | None
    broker: BrokerRole | None


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
async def running(
    platform: Platform, *, role: Role = Role.ALL, token: str | None = None, base_url: str = ""
) -> AsyncIterator[Running]:
    """Start the parts of `role` on this event loop and stop them in reverse order when the block exits.

    Every process has the same services: what needs the IB connection goes through the broker link, to this
    process's own broker parts while it leads, else to the broker process by PostgreSQL. The bot and the
    notifier need the Telegram token."""
    settings, clock, db = platform.settings, platform.clock, platform.db
    if (role.runs(Role.BOT) or role.runs(Role.WORKER)) and not token:
        raise ConfigurationError("OMNIBOT_TELEGRAM_TOKEN is not set: get a token from @BotFather")
    wakeups = Wakeups(db.libpq_url())
    link = BrokerLink(db, wakeups)
    watch = WatchLink(lambda: wakeups.wake("alerts"))
    trading = Trading(db, link, settings, wake_router=link.wake_router, send_block=link.send_block)
    copies = CopyDesk(db, settings, link, wake_router=link.wake_router, wake_desk=lambda: wakeups.wake("copies"))
    cap = functools.partial(margin_service.withdrawal_cap, db, settings, link)
    payments = PaymentDesk(db, settings, platform.field_cipher(), payment_provider(settings), cap)
    broker = Broker(trading, link, copies, AlertDesk(db, link, watch, settings))
    services = Services(settings, db, clock, platform.field_cipher(), broker, payments)
    async with AsyncExitStack() as stack:
        await wakeups.start()
        stack.push_async_callback(wakeups.stop)
        await db.transact(lambda uow: admins.grant_configured(uow, settings))  # OMNIBOT_ADMIN_TELEGRAM_IDS
        checks: dict[str, Check] = {"database": database_check(db)}
        broker_role = None
        if role.runs(Role.BROKER):
            broker_role = BrokerRole(settings, db, clock, wakeups, link, watch, copies, trading, _money_to_ib)
            broker_role.start()
            stack.push_async_callback(broker_role.stop)
            checks["broker"] = broker_role.readiness
        notifier = None
        if role.runs(Role.WORKER):
            assert token
            await _start_jobs(stack, platform, services, trading)
            bot = build_bot(token, base_url, max_rate=settings.telegram_max_rate)
            await bot.initialize()
            stack.push_async_callback(bot.shutdown)
            notifier = Notifier(services, bot)
            notifier.start()
            stack.push_async_callback(notifier.stop)
            checks["notifier"] = notifier.readiness
        application, routes = None, []
        if role.runs(Role.BOT):
            assert token
            application = build_application(services, token, base_url)
            checks["bot"] = _bot_readiness(application)
            hook, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
            if hook and secret is None:
                raise ConfigurationError("OMNIBOT_TELEGRAM_WEBHOOK_SECRET is needed with OMNIBOT_TELEGRAM_WEBHOOK_URL")
            if hook and secret is not None:
                routes = telegram_routes(application, secret.get_secret_value())
        if settings.http_port:
            site = await start_site(settings.http_host, settings.http_port, checks, routes)
            stack.push_async_callback(site.cleanup)
        if application is not None:
            hook, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
            if hook and secret is not None:
                await stack.enter_async_context(by_webhook(application, hook, secret.get_secret_value()))
            else:
                await stack.enter_async_context(polling(application))
        yield Running(services, application, notifier, broker_role)


def _bot_readiness(application: OmnibotApplication) -> Check:
    async def check() -> tuple[bool, str]:
        return application.running, "taking updates" if application.running else "not started"

    return check


async def _start_jobs(stack: AsyncExitStack, platform: Platform, services: Services, trading: Trading) -> None:
    """The worker's jobs, each in one worker at a time (core/leases.py), the watch on the broker process's
    heartbeat, and the payments webhook."""
    settings, db = platform.settings, platform.db
    services.payments.start(Lease(db, "payment desk"))
    stack.push_async_callback(services.payments.stop)
    risk = RiskWatch(db, services.broker.link, settings, trading.place_order)
    every = settings.risk_watch_minutes * 60
    risk.start(Lease(db, "risk watch", every=every * 0.9))  # the next worker's round after the period runs it
    stack.push_async_callback(risk.stop)
    summaries = DailySummaries(db)
    summaries.start(Lease(db, "daily summaries"))
    stack.push_async_callback(summaries.stop)
    silence = LeaderWatch(db, settings.alerts_broker_down_seconds)  # no broker process left to tell of it
    silence.start()
    stack.push_async_callback(silence.stop)
    webhook = await _webhook_site(settings, services.payments, platform.clock)
    if webhook is not None:
        stack.push_async_callback(webhook.cleanup)
