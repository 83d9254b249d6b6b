"""The trading desk the integration tests trade on: the IB simulator over the real ib_async client, the router
(with IB's what-if for the omnibus) and `Trading`, on each database engine. After each test, the books balance and
the broker's side of them matches the simulator's cash and positions (`Desk.assert_matches_simulator`)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pyotp
import pytest

from broker.connection import IBConnection
from broker.market_data import MarketData
from broker.omnibus import OmnibusAccount
from broker.order_requests import OrderRequest
from broker.order_states import OrderSide, OrderStatus
from broker.order_store import OrderRecord, order_by_id
from broker.orders import Trading
from broker.router import Router
from broker.sim.gateway import GatewaySimulator
from core import two_factor, user_service
from core.clock import ManualClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database, UnitOfWork
from core.users import UserStatus
from ledger import operations
from ledger.accounts import AccountKind, AccountState, Asset
from ledger.service import open_account
from tests.support import assert_books_whole, balance, eventually, new_investor

AAPL = 265598
USD = Asset.cash()
SIM_CASH = Decimal(1_000_000)
_keys = itertools.count()


@dataclass
class Desk:
    db: Database
    sim: GatewaySimulator
    trading: Trading
    router: Router
    connection: IBConnection
    clock: ManualClock
    cipher: FieldCipher
    settings: Settings

    async def investor(self, cash: str = "100000.00", *, enrolled: bool = True, active: bool = True) -> UUID:
        owner = await new_investor(self.db)
        if active:
            for status in (UserStatus.PENDING_KYC, UserStatus.ACTIVE):
                await self.db.transact(lambda uow, s=status: user_service.change_status(uow, owner, s))
        if enrolled:
            enrolment = await self.db.transact(
                lambda uow: two_factor.begin_enrolment(uow, self.cipher, self.settings, owner, "investor")
            )
            code = pyotp.TOTP(enrolment.secret).at(self.clock.now())
            await self.db.transact(
                lambda uow: two_factor.confirm_enrolment(uow, self.cipher, self.settings, owner, code)
            )
        if Decimal(cash):
            await self.db.transact(lambda uow: operations.deposit(uow, owner, Decimal(cash), key=f"dep-{owner}"))
        return owner

    async def order(self, owner: UUID, side: str, quantity: object, limit: object = None, key: str = "") -> OrderRecord:
        request = OrderRequest(owner, key or f"k{next(_keys)}", "AAPL", OrderSide(side), quantity, limit)
        return await self.trading.place_order(request)

    async def route(self) -> None:
        self.clock.advance(timedelta(milliseconds=self.settings.trading_block_window_ms))
        await self.router.route_due()

    async def status_of(self, order_id: UUID) -> OrderStatus:
        found = await self.db.transact(lambda uow: order_by_id(uow, order_id), readonly=True)
        assert found is not None
        return found.status

    async def get(self, order_id: UUID) -> OrderRecord:
        found = await self.db.transact(lambda uow: order_by_id(uow, order_id), readonly=True)
        assert found is not None
        return found

    async def cash(self, owner: UUID) -> AccountState:
        async def read(uow: UnitOfWork) -> AccountState:
            return await open_account(uow, AccountKind.INVESTOR_CASH, USD, owner)

        return await self.db.transact(read)

    async def filled_at_least(self, order_id: UUID, quantity: Decimal) -> bool:
        return (await self.get(order_id)).filled_quantity >= quantity

    async def status_is(self, order_id: UUID, status: OrderStatus) -> bool:
        return await self.status_of(order_id) is status

    async def settled(self, *order_ids: UUID) -> None:
        async def terminal() -> bool:
            return all([(await self.status_of(order_id)).is_terminal for order_id in order_ids])

        await eventually(terminal, what="the orders ended")

    @asynccontextmanager
    async def next_process(self) -> AsyncIterator[Router]:
        """This process dies (its connection drops) and a new one starts: a new connection with the same client
        id, and its router, which resumes what was in flight when the connection is ready."""
        await self.connection.stop()
        connection = IBConnection(self.settings, self.clock)
        router = Router(self.db, connection, self.settings, self.clock)
        await connection.start()
        await connection.wait_ready()
        try:
            yield router
        finally:
            await connection.stop()

    async def assert_matches_simulator(self) -> None:
        """The books balance, and the broker's side of them is what the simulator's account shows."""
        await assert_books_whole(self.db)
        shares = await balance(self.db, AccountKind.BROKER_POSITION, Asset.instrument(AAPL))
        assert shares == self.sim.account.holdings.get(AAPL, _Empty).quantity
        broker_cash = await balance(self.db, AccountKind.BROKER_CASH, USD)
        assert broker_cash == self.sim.account.cash - SIM_CASH


class _Empty:
    quantity = Decimal(0)


@pytest.fixture
async def desk(
    db: Database, simulator: GatewaySimulator, clock: ManualClock, cipher: FieldCipher
) -> AsyncIterator[Desk]:
    simulator.account.cash = SIM_CASH
    settings = Settings(
        ib_port=simulator.port,
        ib_client_id=21,
        ib_reconnect_min_seconds=0.05,
        ib_reconnect_max_seconds=0.2,
        ib_commission_wait_seconds=0.2,
        trading_orders_per_minute=5,
        trading_whatif_notional=Decimal(20_000),
        margin_lending_capacity=Decimal(5_000),
    )
    connection = IBConnection(settings, clock)
    market = MarketData(connection, clock)
    router = Router(db, connection, settings, clock, OmnibusAccount(connection))
    trading = Trading(db, market, settings)
    await connection.start()
    await connection.wait_ready()
    yield Desk(db, simulator, trading, router, connection, clock, cipher, settings)
    await connection.stop()
