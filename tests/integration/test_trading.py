"""Trading end to end: investors' orders through pre-trade risk, blocks routed to the simulator over the real
ib_async client, fills allocated and booked, cancels, rejections and a crash between routing and fill. After
every test the books balance and the broker's side of them matches the simulator's cash and positions."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pyotp
import pytest
from sqlalchemy import select

from broker import halts
from broker.connection import IBConnection
from broker.market_data import MarketData
from broker.order_states import OrderSide, OrderStatus
from broker.order_store import OrderRecord, order_by_id, transitions_of
from broker.orders import OrderRequest, Trading
from broker.router import Router
from broker.sim.gateway import GatewaySimulator
from core import two_factor, user_service
from core.calendar import add_business_days, trade_date
from core.clock import ManualClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database, UnitOfWork
from core.errors import (
    AccountNotActive,
    InsufficientBuyingPower,
    InsufficientShares,
    InvalidQuantity,
    NotTradable,
    OrderTooLarge,
    PriceOutsideCollar,
    TooManyOrders,
    TradingHalted,
    TwoFactorNotEnrolled,
)
from core.outbox import messages
from core.users import UserStatus
from ledger import operations
from ledger.accounts import AccountKind, Asset
from ledger.settlement import PENDING, unsettled_cash, withdrawable_cash
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

    async def settled(self, *order_ids: UUID) -> None:
        async def terminal() -> bool:
            return all([(await self.status_of(order_id)).is_terminal for order_id in order_ids])

        await eventually(terminal, what="the orders ended")

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
    )
    connection = IBConnection(settings, clock)
    market = MarketData(connection, clock)
    router = Router(db, connection, settings, clock)
    trading = Trading(db, market, settings)
    await connection.start()
    await connection.wait_ready()
    yield Desk(db, simulator, trading, router, connection, clock, cipher, settings)
    await connection.stop()


async def test_one_order_is_held_routed_filled_and_booked(desk: Desk) -> None:
    alice = await desk.investor("10000.00")
    order = await desk.order(alice, "buy", 10)
    assert order.status is OrderStatus.NEW
    cash = await desk.db.transact(lambda uow: operations_cash(uow, alice))
    assert cash.held > 0 and cash.available == Decimal("10000.00") - cash.held
    await desk.route()
    await desk.settled(order.id)

    filled = await desk.get(order.id)
    assert (filled.status, filled.filled_quantity) == (OrderStatus.FILLED, Decimal(10))
    ask = filled.average_price
    assert ask is not None and filled.commission == Decimal("1.00")
    steps = await desk.db.transact(lambda uow: transitions_of(uow, order.id), readonly=True)
    assert [to for _from, to, _at in steps] == [OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.FILLED]
    assert await balance(desk.db, AccountKind.INVESTOR_POSITION, Asset.instrument(AAPL), alice) == 10
    cash = await desk.db.transact(lambda uow: operations_cash(uow, alice))
    assert cash.held == 0  # what the hold had left was given back
    assert cash.balance == Decimal("10000.00") - filled.filled_gross - Decimal("1.00")
    topics = [m.topic for m in await desk.db.transact(lambda uow: messages(uow), readonly=True)]
    assert topics == ["order.submitted", "order.filled", "order.completed"]
    await desk.assert_matches_simulator()

    again = await desk.trading.place_order(OrderRequest(alice, order.client_key, "AAPL", OrderSide.BUY, 10))
    assert again.id == order.id  # the same key gives back the same order


async def operations_cash(uow: object, owner: UUID) -> object:
    from ledger.service import open_account

    return await open_account(uow, AccountKind.INVESTOR_CASH, USD, owner)  # type: ignore[arg-type]


async def test_a_block_of_three_is_one_ib_order_allocated_pro_rata_through_partial_fills(desk: Desk) -> None:
    owners = [await desk.investor() for _ in range(3)]
    orders = [await desk.order(owner, "buy", quantity) for owner, quantity in zip(owners, (10, 20, 70), strict=True)]
    assert len({o.block_id for o in orders}) == 1  # one block, one IB order
    desk.sim.plan_next_order(slices=[Decimal(33), Decimal(67)])
    await desk.route()
    await eventually(lambda: _filled(desk, orders[2].id, Decimal(23)), what="the first slice was booked")
    firsts = [await desk.get(o.id) for o in orders]
    assert [o.filled_quantity for o in firsts] == [3, 7, 23]  # 3.3, 6.6, 23.1: the odd share to 6.6
    assert all(o.status is OrderStatus.PARTIALLY_FILLED for o in firsts)
    desk.sim.step()
    await desk.settled(*(o.id for o in orders))
    finals = [await desk.get(o.id) for o in orders]
    assert [o.filled_quantity for o in finals] == [10, 20, 70]
    prices = {o.filled_gross / o.filled_quantity for o in finals}
    assert max(prices) - min(prices) < Decimal("0.01")  # the block's average price for all, to the cent
    assert sum(o.commission for o in finals) == Decimal("1.00")  # IB's one minimum, split to the cent
    await desk.assert_matches_simulator()


async def _filled(desk: Desk, order_id: UUID, quantity: Decimal) -> bool:
    return (await desk.get(order_id)).filled_quantity >= quantity


async def test_an_order_cancelled_before_routing_leaves_its_block(desk: Desk) -> None:
    alice, bob = await desk.investor(), await desk.investor()
    kept = await desk.order(alice, "buy", 5)
    dropped = await desk.order(bob, "buy", 7)
    cancelled, block_to_act_on = await desk.trading.cancel_order(bob, dropped.id)
    assert cancelled.status is OrderStatus.CANCELLED and block_to_act_on is None
    assert (await desk.db.transact(lambda uow: operations_cash(uow, bob))).held == 0
    await desk.route()
    await desk.settled(kept.id)
    assert (await desk.get(kept.id)).filled_quantity == 5
    assert desk.sim.account.holdings[AAPL].quantity == 5  # IB was asked for 5, not 12
    await desk.assert_matches_simulator()


async def test_a_routed_order_cancelled_alone_cancels_the_ib_order(desk: Desk) -> None:
    alice = await desk.investor()
    price = desk.sim.quote("AAPL").bid
    resting = await desk.order(alice, "buy", 4, limit=(price * Decimal("0.95")).quantize(Decimal("0.01")))
    await desk.route()
    await eventually(lambda: _status_is(desk, resting.id, OrderStatus.SUBMITTED), what="IB acknowledged")
    _, block = await desk.trading.cancel_order(alice, resting.id)
    assert block is not None
    await desk.router.cancel_requested(block)
    await desk.settled(resting.id)
    ended = await desk.get(resting.id)
    assert ended.status is OrderStatus.CANCELLED and ended.filled_quantity == 0
    assert (await desk.db.transact(lambda uow: operations_cash(uow, alice))).held == 0
    await desk.assert_matches_simulator()


async def _status_is(desk: Desk, order_id: UUID, status: OrderStatus) -> bool:
    return await desk.status_of(order_id) is status


async def test_a_rejection_ends_every_order_of_the_block_and_releases_holds(desk: Desk) -> None:
    alice, bob = await desk.investor(), await desk.investor()
    orders = [await desk.order(alice, "buy", 3), await desk.order(bob, "buy", 2)]
    desk.sim.plan_next_order(reject="201")
    await desk.route()
    await desk.settled(*(o.id for o in orders))
    for order in orders:
        ended = await desk.get(order.id)
        assert ended.status is OrderStatus.REJECTED and "201" in ended.reason
    for owner in (alice, bob):
        assert (await desk.db.transact(lambda uow, o=owner: operations_cash(uow, o))).held == 0
    topics = [m.topic for m in await desk.db.transact(lambda uow: messages(uow), readonly=True)]
    assert topics.count("order.rejected") == 2
    await desk.assert_matches_simulator()


async def test_a_sale_settles_t_plus_one(desk: Desk) -> None:
    alice = await desk.investor()
    bought = await desk.order(alice, "buy", 10)
    await desk.route()
    await desk.settled(bought.id)
    with pytest.raises(InsufficientShares):
        await desk.order(alice, "sell", 11)
    sold = await desk.order(alice, "sell", 10)
    await desk.route()
    await desk.settled(sold.id)
    sale = await desk.get(sold.id)
    proceeds = sale.filled_gross - sale.commission
    settles_on = await desk.db.transact(lambda uow: _settlement_date(uow, alice), readonly=True)
    # The trade date is IB's (the simulator runs on the wall clock): T+1 skips weekends and NYSE holidays.
    assert settles_on == add_business_days(trade_date(datetime.now(UTC)), 1)
    eve = settles_on - timedelta(days=1)
    assert await desk.db.transact(lambda uow: unsettled_cash(uow, alice, eve)) == proceeds
    cash = await balance(desk.db, AccountKind.INVESTOR_CASH, USD, alice)
    assert await desk.db.transact(lambda uow: withdrawable_cash(uow, alice, eve)) == cash - proceeds
    assert await desk.db.transact(lambda uow: withdrawable_cash(uow, alice, settles_on)) == cash
    again = await desk.order(alice, "buy", 1)  # unsettled proceeds buy at once
    assert again.status is OrderStatus.NEW
    await desk.assert_matches_simulator()


async def test_pre_trade_risk_refuses_with_reasons(desk: Desk) -> None:
    alice = await desk.investor("1000.00")
    with pytest.raises(InvalidQuantity):
        await desk.order(alice, "buy", "1.5")
    with pytest.raises(NotTradable):
        await desk.trading.place_order(OrderRequest(alice, "x", "NOSUCH", OrderSide.BUY, 1))
    with pytest.raises(InsufficientBuyingPower):
        await desk.order(alice, "buy", 100)
    with pytest.raises(OrderTooLarge):
        await desk.order(alice, "buy", 9_000)
    last = desk.sim.quote("AAPL").last
    with pytest.raises(PriceOutsideCollar):
        await desk.order(alice, "buy", 1, limit=(last * Decimal("0.5")).quantize(Decimal("0.01")))
    with pytest.raises(AccountNotActive):
        await desk.order(await desk.investor(active=False), "buy", 1)
    with pytest.raises(TwoFactorNotEnrolled):
        await desk.order(await desk.investor(enrolled=False), "buy", 1)
    await desk.db.transact(lambda uow: halts.set_halt(uow, AAPL, "news pending"))
    with pytest.raises(TradingHalted):
        await desk.order(alice, "buy", 1)
    await desk.db.transact(lambda uow: halts.clear_halt(uow, AAPL))
    rich = await desk.investor()
    placed = [await desk.order(rich, "buy", 1) for _ in range(5)]
    with pytest.raises(TooManyOrders) as refused:
        await desk.order(rich, "buy", 1)
    assert refused.value.retry_after_seconds == 60  # the manual clock has not moved
    await desk.route()
    await desk.settled(*(order.id for order in placed))
    await desk.assert_matches_simulator()


async def test_a_crash_between_routing_and_sending_is_recovered_exactly(desk: Desk) -> None:
    """The block is marked routed, then the process dies before IB hears of it; a new process (a new
    connection with the same client id) sends it once, and the fill is booked once."""
    alice = await desk.investor()
    order = await desk.order(alice, "buy", 6)
    desk.clock.advance(timedelta(milliseconds=desk.settings.trading_block_window_ms))
    claimed = await desk.db.transact(desk.router._claim_due)  # routed in the database, never sent: the crash
    assert len(claimed) == 1
    await desk.connection.stop()

    connection = IBConnection(desk.settings, desk.clock)
    router = Router(desk.db, connection, desk.settings, desk.clock)
    await connection.start()
    await connection.wait_ready()
    try:
        await desk.settled(order.id)
        assert (await desk.get(order.id)).filled_quantity == 6
        assert desk.sim.account.holdings[AAPL].quantity == 6
        await router.resume()  # again: nothing is sent twice
        assert desk.sim.account.holdings[AAPL].quantity == 6
        await desk.assert_matches_simulator()
    finally:
        await connection.stop()


async def _settlement_date(uow: UnitOfWork, owner: UUID) -> date:
    query = select(PENDING.c.settles_on).where(PENDING.c.owner_id == owner)
    return (await uow.connection.execute(query)).scalar_one()  # type: ignore[no-any-return]
