"""Block orders: many investors' orders as one IB order, printed as JSON lines (DESIGN.md section 9).

    python -m bench.blocks [--orders 10000] [--engine postgresql]

One block of N orders (1 to 10 shares each) from N investors is routed to the simulator through the real
connection and router: the IB messages it took (goal <= 5), and the time to allocate the fill and book it for
every investor in the database (goal <= 1.0 s on PostgreSQL: one ledger entry, every order's fill, state,
transitions, hold and outbox message). Then the same orders routed one by one: the messages that would take
and the time IB's limit of 50 messages a second would impose on them.

Setup (not timed) writes the investors, their deposits, holds and orders in bulk, as place_order would leave
them; placing 10,000 orders through the pre-trade checks one by one is a different measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from decimal import Decimal

from bench.ledger import fresh_database
from bench.lines import Lines
from broker import order_store as store
from broker.connection import IBConnection
from broker.events import BrokerEvent, OrderFilled
from broker.order_states import OrderSide, OrderStatus, OrderType, TimeInForce
from broker.order_store import BlockRecord, OrderRecord
from broker.router import Router
from broker.sim.gateway import GatewaySimulator
from core.clock import SystemClock
from core.config import Settings
from core.db import Database, UnitOfWork
from core.models import User
from core.users import Role, UserStatus
from ledger import store as ledger_store
from ledger.accounts import AccountKind, Asset
from ledger.entries import EntryRequest, Leg
from ledger.holds import HoldState, HoldStatus
from ledger.instruments import InstrumentRecord, save_instrument
from ledger.integrity import check_books
from ledger.money import ZERO
from ledger.service import open_accounts, post_entries

AAPL = InstrumentRecord(265598, "AAPL", primary_exchange="NASDAQ", description="APPLE INC")
IB_LIMIT = 50
DEPOSIT = Decimal(5000)
GOALS = {"block_ib_messages": 5, "block_allocate_and_book_s": 1.0}


emit = Lines("blocks", GOALS)


async def setup(db: Database, count: int, rng: random.Random, price: Decimal) -> BlockRecord:
    """N active investors with cash, and one block of N market buys, each with its hold, ready to route."""

    async def write(uow: UnitOfWork) -> BlockRecord:
        now = uow.clock.now()
        await save_instrument(uow, AAPL)
        owners = [uow.ids.new_id() for _ in range(count)]
        await uow.connection.execute(
            User.__table__.insert(),
            [
                {
                    "id": owner,
                    "telegram_id": 10_000_000 + n,
                    "status": UserStatus.ACTIVE.value,
                    "role": Role.INVESTOR.value,
                    "language": "en",
                    "created_at": now,
                    "updated_at": now,
                }
                for n, owner in enumerate(owners)
            ],
        )
        usd = Asset.cash()
        specs = [(AccountKind.BANK, usd, None)] + [(AccountKind.INVESTOR_CASH, usd, owner) for owner in owners]
        bank, *cash = await open_accounts(uow, specs)
        await post_entries(
            uow,
            [
                EntryRequest(
                    f"dep/{account.id}",
                    "deposit",
                    (Leg.debit(bank.id, Decimal(5000)), Leg.credit(account.id, Decimal(5000))),
                )
                for account in cash
            ],
        )
        quantities = [Decimal(rng.randint(1, 10)) for _ in owners]
        block = BlockRecord(
            uow.ids.new_id(),
            AAPL.con_id,
            OrderSide.BUY,
            OrderType.MARKET,
            TimeInForce.DAY,
            None,
            OrderStatus.NEW,
            sum(quantities, ZERO),
            ZERO,
            ZERO,
            0,
            now,
            None,
            None,
            None,
            "",
            now,
            now,
        )
        await store.insert_block(uow, block)
        holds, orders = [], []
        for owner, account, quantity in zip(owners, cash, quantities, strict=True):
            hold = HoldState(
                uow.ids.new_id(),
                account.id,
                (quantity * price * Decimal("1.05")).quantize(Decimal("0.01")) + 1,
                ZERO,
                ZERO,
                HoldStatus.PENDING,
                f"order/{owner}",
                "buy AAPL",
            )
            holds.append(hold)
            orders.append(
                OrderRecord(
                    uow.ids.new_id(),
                    owner,
                    "bench",
                    AAPL.con_id,
                    OrderSide.BUY,
                    OrderType.MARKET,
                    TimeInForce.DAY,
                    quantity,
                    None,
                    OrderStatus.NEW,
                    ZERO,
                    ZERO,
                    ZERO,
                    hold.id,
                    block.id,
                    "",
                    None,
                    now,
                    now,
                )
            )
        await uow.connection.execute(
            ledger_store.HOLDS.insert(),
            [
                {
                    "id": h.id,
                    "idempotency_key": h.key,
                    "account_id": h.account_id,
                    "amount": h.amount,
                    "posted": ZERO,
                    "released": ZERO,
                    "status": h.status.value,
                    "reason": h.reason,
                    "created_at": now,
                    "updated_at": now,
                }
                for h in holds
            ],
        )
        await ledger_store.save_held(
            uow,
            [
                account.__class__(**{**account.__dict__, "held": hold.amount, "version": account.version + 2})
                for account, hold in zip(cash, holds, strict=True)
            ],
        )
        await uow.connection.execute(store.ORDERS.insert(), [store._row_of(order) for order in orders])
        return block

    return await db.transact(write)


class Stopwatch:
    """Subscribed before and after the router: the time the router spent booking each execution."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.booking: list[float] = []
        self.done = asyncio.Event()

    async def before(self, event: BrokerEvent) -> None:
        if isinstance(event, OrderFilled):
            self.started[event.exec_id] = time.perf_counter()

    async def after(self, event: BrokerEvent) -> None:
        if isinstance(event, OrderFilled):
            self.booking.append(time.perf_counter() - self.started[event.exec_id])
            self.done.set()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--engine", default="postgresql", choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    simulator = GatewaySimulator(account="DU0000001", cash=Decimal(1_000_000_000), auto_step=False, seed=3)
    await simulator.start("127.0.0.1", 0)
    price = simulator.quote("AAPL").ask or Decimal(200)
    async with fresh_database(args.engine, pool=5) as db:
        block = await setup(db, args.orders, random.Random(11), price)
        settings = Settings(ib_port=simulator.port, ib_client_id=5, trading_block_window_ms=0)
        clock = SystemClock()
        connection = IBConnection(settings, clock)
        stopwatch = Stopwatch()
        connection.subscribe(stopwatch.before)
        router = Router(db, connection, settings, clock)
        connection.subscribe(stopwatch.after)
        await connection.start()
        await connection.wait_ready(within=30)
        sent_before = connection.status().messages_sent
        routed = await router.route_due()
        await asyncio.wait_for(stopwatch.done.wait(), timeout=120)
        messages = connection.status().messages_sent - sent_before
        orders = await db.transact(lambda uow: store.orders_of_block(uow, block.id), readonly=True)
        filled = sum(1 for order in orders if order.status is OrderStatus.FILLED)
        problems = await db.transact(check_books, readonly=True)
        emit("block_ib_messages", messages, "messages", "lower", orders=args.orders, blocks=len(routed))
        emit(
            "block_allocate_and_book_s",
            round(sum(stopwatch.booking), 3),
            "s",
            "lower",
            orders=args.orders,
            engine=args.engine,
            executions=len(stopwatch.booking),
            filled=filled,
            books_whole=not problems,
        )
        emit("one_by_one_ib_messages", args.orders, "messages", "lower", orders=args.orders)
        emit("one_by_one_minimum_s", round(args.orders / IB_LIMIT, 1), "s", "lower", orders=args.orders, limit=IB_LIMIT)
        await connection.stop()
    await simulator.stop()


if __name__ == "__main__":
    asyncio.run(main())
