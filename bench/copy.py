"""Copy trading: one leader's fill mirrored to many copiers, printed as JSON lines (DESIGN.md section 9).

    python -m bench.copy [--copiers 10000] [--engine postgresql]

The leader buys 1,000 AAPL through `Trading`; the copy desk, the router and the real ib_async connection to the
simulator do the rest, as in production: the leader's fill is booked with its signal, the desk prices the
copies and places every copier's order as one block, the router sends it, the simulator fills it, and the
router books it for every copier. Measured:

- mirror_ib_messages (goal <= 5): IB messages from the leader's fill to the copiers' fill booked;
- leader_fill_to_copiers_booked_s (goal <= 2.0 s): from the leader's fill arriving to every copier's fill
  booked in the database (the simulator fills at once: no fill delay to exclude);
- notifications_queued_s (goal <= 1.0 s): from the copiers' fill arriving to its booking committed, with the
  10,000 fill notifications in the outbox (they are written in the booking's own transaction);
- mirror_s: of the first figure, the desk's part (signal to the copiers' block committed).

Setup (not timed) writes the copiers, their deposits and their funded copies in bulk.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from decimal import Decimal
from typing import Any

import pyotp
from pydantic import SecretStr
from sqlalchemy import func, select

from bench.ledger import fresh_database
from bench.lines import Lines
from broker.connection import IBConnection
from broker.events import BrokerEvent, OrderFilled
from broker.market_data import MarketData
from broker.order_requests import OrderRequest
from broker.order_states import OrderSide
from broker.orders import Trading
from broker.router import Router
from broker.sim.gateway import GatewaySimulator
from copytrade.desk import CopyDesk
from copytrade.store import COPIES, LEADERS
from copytrade.terms import CopyMode, CopyStatus, LeaderStatus, Sizing
from core import two_factor
from core.bulk import insert_rows
from core.clock import SystemClock
from core.config import Settings
from core.crypto import FieldCipher, generate_key
from core.db import Database, UnitOfWork
from core.models import User
from core.outbox import OUTBOX
from core.users import Role, UserStatus
from ledger.accounts import AccountKind, Asset, Holder
from ledger.entries import EntryRequest, Leg
from ledger.instruments import InstrumentRecord, save_instrument
from ledger.integrity import check_books
from ledger.money import ZERO
from ledger.service import open_accounts, post_entries

AAPL = InstrumentRecord(265598, "AAPL", primary_exchange="NASDAQ", description="APPLE INC")
GOALS = {"mirror_ib_messages": 5, "leader_fill_to_copiers_booked_s": 2.0, "notifications_queued_s": 1.0}
LEADER_CASH, COPY_AMOUNT, LEADER_BUY = Decimal(1_000_000), Decimal(5_000), Decimal(1_000)


emit = Lines("copy", GOALS)


async def setup(db: Database, settings: Settings, copiers: int) -> Any:
    """An active leader with cash and two-factor, and `copiers` investors each copying them with a funded copy."""

    async def write(uow: UnitOfWork) -> Any:
        now = uow.clock.now()
        await save_instrument(uow, AAPL)
        leader, *owners = [uow.ids.new_id() for _ in range(copiers + 1)]
        users = [
            {"id": user, "telegram_id": 20_000_000 + n, "status": UserStatus.ACTIVE.value,
             "role": Role.INVESTOR.value, "language": "en", "created_at": now, "updated_at": now}
            for n, user in enumerate([leader, *owners])
        ]  # fmt: skip
        await insert_rows(uow, User.__table__, users)  # type: ignore[arg-type]
        await insert_rows(
            uow,
            LEADERS,
            [{"user_id": leader, "alias": "Ada", "alias_key": "ada", "description": "", "profit_share_pct": ZERO,
              "status": LeaderStatus.ACTIVE.value, "created_at": now, "updated_at": now}],
        )  # fmt: skip
        copies = [uow.ids.new_id() for _ in owners]
        await insert_rows(
            uow,
            COPIES,
            [
                {"id": copy, "follower_id": owner, "leader_id": leader, "mode": CopyMode.COPY.value,
                 "status": CopyStatus.ACTIVE.value, "sizing": Sizing.PROPORTIONAL.value, "sizing_value": None,
                 "max_per_trade": None, "stop_loss_pct": Decimal(50), "take_profit_pct": None,
                 "invested": COPY_AMOUNT, "high_water_mark": ZERO, "stop_reason": "", "keep_positions": False,
                 "created_at": now, "updated_at": now}
                for copy, owner in zip(copies, owners, strict=True)
            ],
        )  # fmt: skip
        bank, leader_cash, *sleeves = await open_accounts(
            uow,
            [(AccountKind.BANK, Asset.cash(), None), Holder(leader).cash()]
            + [Holder(owner, copy).cash() for owner, copy in zip(owners, copies, strict=True)],
        )
        deposits = [
            EntryRequest(
                "dep/leader", "deposit", (Leg.debit(bank.id, LEADER_CASH), Leg.credit(leader_cash.id, LEADER_CASH))
            )
        ]
        deposits += [
            EntryRequest(f"dep/{s.id}", "deposit", (Leg.debit(bank.id, COPY_AMOUNT), Leg.credit(s.id, COPY_AMOUNT)))
            for s in sleeves
        ]
        await post_entries(uow, deposits)
        cipher = FieldCipher.from_settings(settings)
        enrolment = await two_factor.begin_enrolment(uow, cipher, settings, leader, "leader")
        await two_factor.confirm_enrolment(uow, cipher, settings, leader, pyotp.TOTP(enrolment.secret).at(now))
        return leader

    return await db.transact(write)


class Stopwatch:
    """Subscribed before and after the router: when each execution arrived and when it was booked."""

    def __init__(self, leader_ref: list[str], connection: IBConnection) -> None:
        self.leader_ref, self.connection = leader_ref, connection
        self.sent_at_leader_fill = 0
        self.arrived: dict[str, float] = {}
        self.booked: dict[str, float] = {}
        self.copiers_booked = asyncio.Event()

    async def before(self, event: BrokerEvent) -> None:
        if isinstance(event, OrderFilled):
            self.arrived[event.order_ref] = time.perf_counter()
            if event.order_ref in self.leader_ref:
                self.sent_at_leader_fill = self.connection.status().messages_sent

    async def after(self, event: BrokerEvent) -> None:
        if isinstance(event, OrderFilled):
            self.booked[event.order_ref] = time.perf_counter()
            if event.order_ref not in self.leader_ref:
                self.copiers_booked.set()


class TimedDesk(CopyDesk):
    """The copy desk, noting when its mirror of the leader's fill committed."""

    mirrored_at = 0.0

    async def mirror_pending(self) -> int:
        done = await super().mirror_pending()
        if done:
            self.mirrored_at = time.perf_counter()
        return done


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copiers", type=int, default=10_000)
    parser.add_argument("--engine", default="postgresql", choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    simulator = GatewaySimulator(account="DU0000001", cash=Decimal(1_000_000_000), auto_step=False, seed=3)
    await simulator.start("127.0.0.1", 0)
    async with fresh_database(args.engine, pool=10) as db:
        settings = Settings(
            ib_port=simulator.port,
            ib_client_id=6,
            trading_block_window_ms=0,
            encryption_keys=SecretStr(f"bench:{generate_key()}"),
            blind_index_key=SecretStr(generate_key()),
        )
        leader = await setup(db, settings, args.copiers)
        clock = SystemClock()
        connection = IBConnection(settings, clock)
        leader_ref: list[str] = []
        stopwatch = Stopwatch(leader_ref, connection)
        connection.subscribe(stopwatch.before)
        router = Router(db, connection, settings, clock)
        connection.subscribe(stopwatch.after)
        market = MarketData(connection, clock)
        desk = TimedDesk(db, settings, market, wake_router=router.wake)
        router.follow_fills(desk)
        trading = Trading(db, market, settings, wake_router=router.wake, send_block=router.send)
        await connection.start()
        await connection.wait_ready(within=30)
        router.start()
        desk.start()
        order = await trading.place_order(OrderRequest(leader, "bench", "AAPL", OrderSide.BUY, LEADER_BUY))
        leader_ref.append(str(order.block_id))
        await asyncio.wait_for(stopwatch.copiers_booked.wait(), timeout=600)
        leader_arrived = stopwatch.arrived[leader_ref[0]]
        leader_booked = stopwatch.booked[leader_ref[0]]
        copier_ref = next(ref for ref in stopwatch.booked if ref != leader_ref[0])
        messages = connection.status().messages_sent - stopwatch.sent_at_leader_fill
        queued = await db.transact(_fill_notifications, readonly=True)
        problems = await db.transact(check_books, readonly=True)
        extra = {"copiers": args.copiers, "engine": args.engine}
        emit("mirror_ib_messages", messages, "messages", "lower", **extra)
        total = stopwatch.booked[copier_ref] - leader_arrived
        emit("leader_fill_to_copiers_booked_s", round(total, 3), "s", "lower", books_whole=not problems, **extra)
        booking = stopwatch.booked[copier_ref] - stopwatch.arrived[copier_ref]
        emit("notifications_queued_s", round(booking, 3), "s", "lower", notifications=queued, **extra)
        emit("mirror_s", round(desk.mirrored_at - leader_booked, 3), "s", "lower", **extra)
        emit("leader_fill_booked_s", round(leader_booked - leader_arrived, 3), "s", "lower", **extra)
        await desk.stop()
        await router.stop()
        await connection.stop()
    await simulator.stop()


async def _fill_notifications(uow: UnitOfWork) -> int:
    query = select(func.count()).select_from(OUTBOX).where(OUTBOX.c.topic == "order.filled")
    return int(await uow.connection.scalar(query) or 0) - 1  # the leader's own left out


if __name__ == "__main__":
    asyncio.run(main())
