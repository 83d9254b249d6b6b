"""The platform under simulation: the real services (ledger, trading, the router, the one IB connection with the
real ib_async client) on a fresh database, against the IB Gateway simulator over a loopback socket, on a manual
clock and seeded ids. Its "process" can crash and start again: a new connection with the same client id, a new
router that recovers from IB, the same database.

Each step is settled before the next: whatever IB has to say of it (acknowledgements, executions, commission
reports, cancels) is booked before the harness goes on, so the order of events, and so the run, depends only on
the seed."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pyotp
from sqlalchemy import select
from telegram.constants import ParseMode
from telegram.ext import Defaults, ExtBot
from telegram.request import HTTPXRequest

from alerts.desk import AlertDesk
from alerts.watcher import WatchLink
from bot.app import build_application
from bot.emulator.server import Emulator
from bot.notifier import Notifier
from bot.services import Broker, Services
from broker import margin_service
from broker.connection import IBConnection
from broker.events import ConnectionState
from broker.link import BrokerLink, LocalBroker
from broker.margin import AccountType
from broker.market_data import MarketData
from broker.omnibus import OmnibusAccount
from broker.order_states import OrderStatus
from broker.order_store import BLOCKS, EXECUTIONS, ORDERS
from broker.orders import Trading
from broker.reconciler import Reconciler
from broker.router import Router
from broker.sim.gateway import GatewaySimulator
from copytrade import leaders
from copytrade.desk import CopyDesk
from core import two_factor, user_service
from core.clock import ManualClock
from core.config import Settings
from core.crypto import FieldCipher, generate_key
from core.db import Database
from core.ids import Uuid7Generator
from core.users import PersonalData, UserStatus
from core.wakeups import Wakeups
from ledger import operations
from omnibot import migrations
from payments.bank_details import iban_details
from payments.desk import PaymentDesk

from .bank import SimBank
from .mortal import Crashed, Mortal

START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # a Monday, the open in New York
SIM_CASH = Decimal(10_000_000)
CLIENT_ID = 9
TOKEN = "7000:SIM"
FIRST_TELEGRAM_ID = 500_000
MARGIN_EVERY = 3  # investors 2, 5, ... have margin accounts
SETTLE_SECONDS = 10.0
IBANS = ("DE89370400440532013000", "NL91ABNA0417164300", "GB29NWBK60161331926819", "FR1420041010050500013M02606")


class NotSettled(Exception):
    """IB's answers to a step did not all arrive and get booked in time."""


@dataclass
class World:
    seed: int
    folder: Path
    clock: ManualClock = field(default_factory=lambda: ManualClock(START))
    investors: list[UUID] = field(default_factory=list)
    banks: dict[UUID, UUID] = field(default_factory=dict)  # investor -> their bank account
    secrets: dict[UUID, str] = field(default_factory=dict)  # investor -> their authenticator's secret
    confirmed_orders: list[tuple[UUID, str]] = field(default_factory=list)  # (investor, client key) confirmed in chat
    chat_withdrawals: dict[str, str] = field(default_factory=dict)  # client key -> "made" (said so) or "dropped"

    async def start(self, investors: int) -> None:
        rng = random.Random(f"{self.seed}/ids")  # its own stream: the actions draw from another
        self.db = Database(
            f"sqlite:///{self.folder / f'sim-{self.seed}.db'}", clock=self.clock, ids=Uuid7Generator(self.clock, rng)
        )
        await migrations.upgrade(self.db)
        self.sim = GatewaySimulator(account="DU0000099", seed=self.seed, auto_step=False, clock=self.clock.now)
        self.sim.account.cash = SIM_CASH
        await self.sim.start("127.0.0.1", 0)
        self.settings = Settings(
            ib_port=self.sim.port,
            ib_client_id=CLIENT_ID,
            ib_reconnect_min_seconds=0.02,
            ib_reconnect_max_seconds=0.1,
            ib_commission_wait_seconds=0.1,
            trading_block_window_ms=0,  # every order its own block, sent in its own step
            trading_orders_per_minute=10_000,
            encryption_keys=f"sim:{generate_key()}",
            blind_index_key=generate_key(),
            payments_bank_cooldown_hours=0,
            payments_auto_approve_below=Decimal(1_000),  # larger withdrawals wait for an admin
            margin_lending_capacity=Decimal(500_000),  # what the house may lend the margin accounts in all
        )
        self.cipher = FieldCipher.from_settings(self.settings)
        self.bank = SimBank(self.clock)  # outlives our process: it is someone else's, as Telegram is
        self.telegram = Emulator(TOKEN, monotonic=lambda: self.clock.now().timestamp())  # its limits on our clock
        await self.telegram.start("127.0.0.1", 0)
        await self.boot()
        for n in range(investors):
            self.investors.append(await self._investor(n))
        leader, settings, share = self.investors[0], self.settings, Decimal(10)
        await self.process.transact(
            lambda uow: leaders.become_leader(uow, settings, leader, "Ada", "large caps", share)
        )
        await self.process.transact(lambda uow: leaders.review_leader(uow, leader, approve=True))

    async def boot(self) -> None:
        """The process starts: its connection recovers from IB, then its router resumes what was in flight.
        Its services write through `process` (which can die at a commit); the harness reads through `db`."""
        self.process = Mortal(self.db)
        db: Any = self.process  # it stands for the Database
        self.connection = IBConnection(self.settings, self.clock)
        self.market = MarketData(self.connection, self.clock, fresh_seconds=0)  # no quote kept on the wall clock
        self.router = Router(db, self.connection, self.settings, self.clock, OmnibusAccount(self.connection))
        self.trading = Trading(db, self.market, self.settings, send_block=self.router.send)
        self.copies = CopyDesk(db, self.settings, self.market)  # its rounds run as the harness's steps
        self.router.follow_fills(self.copies)
        cap = functools.partial(margin_service.withdrawal_cap, db, self.settings, self.market)  # margin rules
        self.payments = PaymentDesk(db, self.settings, self.cipher, self.bank, cap)
        # Telegram through the real client, without the production rate limiter: it waits out a 429 on the wall
        # clock, where the simulation's flood limits move with its own; the notifier takes the 429 instead.
        self.bot: ExtBot[None] = ExtBot(
            TOKEN,
            base_url=self.telegram.base_url,
            defaults=Defaults(parse_mode=ParseMode.HTML),
            request=HTTPXRequest(connection_pool_size=64),
        )
        await self.bot.initialize()
        link = BrokerLink(db, Wakeups(None))  # the one process leads: every call goes to its own parts
        reconciler = Reconciler(db, self.connection, OmnibusAccount(self.connection), self.settings)
        link.local = LocalBroker(db, self.connection, self.market, self.router, reconciler)
        alerts = AlertDesk(db, link, WatchLink(lambda: None), self.settings)
        broker = Broker(self.trading, link, self.copies, alerts)
        services = Services(self.settings, db, self.clock, self.cipher, broker, self.payments)
        self.notifier = Notifier(services, self.bot, monotonic=lambda: self.clock.now().timestamp())
        self.application = build_application(services, TOKEN, self.telegram.base_url, bot=self.bot)
        await self.application.initialize()
        await self.connection.start()
        await self.connection.wait_ready(SETTLE_SECONDS)

    async def hung_up(self, sessions_before: int) -> None:
        """Wait until the connection noticed the hang-up and came back (a new session at the gateway): until
        then, a settled look would see the old connection still "ready"."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while self.sim.sessions_opened <= sessions_before:
            if time.monotonic() > deadline:
                raise NotSettled("the connection never came back after the gateway hung up")
            await asyncio.sleep(0.005)

    async def crash(self) -> None:
        """The process dies, now or at the commit it died at (its IB connection drops), and a new one starts
        on the same database; the bank delivers again what the dead one did not answer."""
        self.process.dead = True
        with contextlib.suppress(Exception, Crashed):  # its event task may have died of the crash
            await self.connection.stop()
        self.connection.ib.disconnect()
        await self.application.shutdown()
        await self.boot()
        await self.bank.deliver(self.payments)

    async def stop(self) -> None:
        await self.connection.stop()
        await self.application.shutdown()
        await self.telegram.stop()
        await self.sim.stop()
        await self.db.dispose()

    async def _investor(self, n: int) -> UUID:
        db = self.process
        self.telegram.world.user(FIRST_TELEGRAM_ID + n, f"Investor {n}")
        owner = (await db.transact(lambda uow: user_service.register(uow, FIRST_TELEGRAM_ID + n))).id
        name = PersonalData(f"Investor {n}")
        await db.transact(lambda uow: user_service.save_personal_data(uow, self.cipher, owner, name))
        for status in (UserStatus.PENDING_KYC, UserStatus.ACTIVE):
            await db.transact(lambda uow, s=status: user_service.change_status(uow, owner, s))
        enrolment = await db.transact(
            lambda uow: two_factor.begin_enrolment(uow, self.cipher, self.settings, owner, f"investor-{n}")
        )
        self.secrets[owner] = enrolment.secret
        code = pyotp.TOTP(enrolment.secret).at(self.clock.now())
        await db.transact(lambda uow: two_factor.confirm_enrolment(uow, self.cipher, self.settings, owner, code))
        await db.transact(lambda uow: operations.deposit(uow, owner, Decimal(50_000), key=f"opening/{owner}"))
        if n % MARGIN_EVERY == MARGIN_EVERY - 1:  # some trade on margin: they may borrow, within the rules
            await db.transact(lambda uow: margin_service.set_account_type(uow, owner, AccountType.MARGIN))
        bank = await self.payments.add_bank(owner, iban_details(IBANS[n % len(IBANS)]), f"Investor {n}")
        self.banks[owner] = bank.id
        return owner

    # ---- settling a step

    async def settle(self) -> None:
        """Wait until IB's view and the books agree: every execution IB made for us booked, and every routed
        block live exactly when IB's order is open."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            if self.process.dead:  # at a commit of a task of its own (a fill's booking, say)
                raise Crashed(self.process.died_at)
            await self.router.route_due()  # blocks the copy desk left due (no window: due at once)
            if await self.quiet():
                if self.process.dead:  # it died at the commit that made it quiet
                    raise Crashed(self.process.died_at)
                return
            if time.monotonic() > deadline:
                raise NotSettled(await self.unsettled())
            await asyncio.sleep(0.005)

    async def quiet(self) -> bool:
        return not await self.unsettled()

    async def unsettled(self) -> str:
        if self.connection.state is not ConnectionState.READY:
            return f"the connection is {self.connection.state.value}"
        # IB's side taken at one instant (it moves while we read the database)
        made = {e.exec_id for e in self.sim.desk.executions}
        at_ib = {o.order_ref: o.is_open for o in self.sim.desk.orders.values()}
        booked = set(await self.db.transact(_booked_exec_ids, readonly=True))
        if missing := made - booked:
            return f"executions not booked: {sorted(missing)}"
        if asked := await self.db.transact(_cancels_in_flight, readonly=True):
            return f"cancels asked, not yet answered by IB: {asked}"
        for order_ref, live, new in await self.db.transact(_routed_blocks, readonly=True):
            if new and at_ib.get(order_ref, False):
                return f"block {order_ref} is open at IB, its acknowledgement not booked yet"
            if at_ib.get(order_ref, False) != live:
                here, there = "live" if live else "ended", "open" if at_ib.get(order_ref) else "not open"
                return f"block {order_ref} is {here} here, {there} at IB"
        return ""


async def _booked_exec_ids(uow: Any) -> list[str]:
    return list((await uow.connection.execute(select(EXECUTIONS.c.exec_id))).scalars())


async def _cancels_in_flight(uow: Any) -> list[str]:
    live = [status.value for status in OrderStatus if status.is_live]
    query = select(ORDERS.c.id).where(ORDERS.c.status.in_(live), ORDERS.c.cancel_requested_at.is_not(None))
    return [str(order_id) for order_id in (await uow.connection.execute(query)).scalars()]


async def _routed_blocks(uow: Any) -> list[tuple[str, bool, bool]]:
    live = {status.value for status in OrderStatus if status.is_live}
    query = select(BLOCKS.c.id, BLOCKS.c.status).where(BLOCKS.c.routed_at.is_not(None))
    found = []
    for row in await uow.connection.execute(query):
        status = str(getattr(row.status, "value", row.status))
        found.append((str(row.id), status in live, status == OrderStatus.NEW.value))
    return found
