"""Trading end to end: investors' orders through pre-trade risk, blocks routed to the simulator over the real
ib_async client, fills allocated and booked, cancels, rejections and a crash between routing and fill. After
every test the books balance and the broker's side of them matches the simulator's cash and positions."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from sqlalchemy import select

from broker import halts
from broker.market_data import MarketData
from broker.order_requests import OrderRequest
from broker.order_states import OrderSide, OrderStatus
from broker.order_store import BlockRecord, execution_booked, transitions_of
from broker.orders import Trading
from core import pending_actions
from core.calendar import add_business_days, trade_date
from core.db import UnitOfWork
from core.errors import (
    AccountNotActive,
    ActionUnavailable,
    IdempotencyConflict,
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
from ledger.accounts import AccountKind, Asset
from ledger.settlement import PENDING, unsettled_cash, withdrawable_cash
from tests.integration.trading_desk import AAPL, USD, Desk
from tests.support import balance, eventually


async def test_one_order_is_held_routed_filled_and_booked(desk: Desk) -> None:
    alice = await desk.investor("10000.00")
    order = await desk.order(alice, "buy", 10)
    assert order.status is OrderStatus.NEW
    cash = await desk.cash(alice)
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
    cash = await desk.cash(alice)
    assert cash.held == 0  # what the hold had left was given back
    assert cash.balance == Decimal("10000.00") - filled.filled_gross - Decimal("1.00")
    topics = [m.topic for m in await desk.db.transact(lambda uow: messages(uow), readonly=True)]
    assert topics == ["order.submitted", "order.filled", "order.completed"]
    await desk.assert_matches_simulator()

    again = await desk.trading.place_order(OrderRequest(alice, order.client_key, "AAPL", OrderSide.BUY, 10))
    assert again.id == order.id  # the same key gives back the same order
    # The key's order is found even when the request no longer passes the checks: a different request
    with pytest.raises(IdempotencyConflict):
        await desk.trading.place_order(OrderRequest(alice, order.client_key, "AAPL", OrderSide.BUY, "10.5"))


async def test_a_block_of_three_is_one_ib_order_allocated_pro_rata_through_partial_fills(desk: Desk) -> None:
    owners = [await desk.investor() for _ in range(3)]
    orders = [await desk.order(owner, "buy", quantity) for owner, quantity in zip(owners, (10, 20, 70), strict=True)]
    assert len({o.block_id for o in orders}) == 1  # one block, one IB order
    desk.sim.plan_next_order(slices=[Decimal(33), Decimal(67)])
    await desk.route()
    await eventually(lambda: desk.filled_at_least(orders[2].id, Decimal(23)), what="the first slice was booked")
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


async def test_an_order_cancelled_before_routing_leaves_its_block(desk: Desk) -> None:
    alice, bob = await desk.investor(), await desk.investor()
    kept = await desk.order(alice, "buy", 5)
    dropped = await desk.order(bob, "buy", 7)
    cancelled, block_to_act_on = await desk.trading.cancel_order(bob, dropped.id)
    assert cancelled.status is OrderStatus.CANCELLED and block_to_act_on is None
    assert (await desk.cash(bob)).held == 0
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
    await eventually(lambda: desk.status_is(resting.id, OrderStatus.SUBMITTED), what="IB acknowledged")
    _, block = await desk.trading.cancel_order(alice, resting.id)
    assert block is not None
    await desk.router.cancel_requested(block)
    await desk.settled(resting.id)
    ended = await desk.get(resting.id)
    assert ended.status is OrderStatus.CANCELLED and ended.filled_quantity == 0
    assert (await desk.cash(alice)).held == 0
    await desk.assert_matches_simulator()


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
        assert (await desk.cash(owner)).held == 0
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
    async with desk.next_process() as router:
        await desk.settled(order.id)
        assert (await desk.get(order.id)).filled_quantity == 6
        assert desk.sim.account.holdings[AAPL].quantity == 6
        await router.resume()  # again: nothing is sent twice
        assert desk.sim.account.holdings[AAPL].quantity == 6
        await desk.assert_matches_simulator()


async def _settlement_date(uow: UnitOfWork, owner: UUID) -> date:
    query = select(PENDING.c.settles_on).where(PENDING.c.owner_id == owner)
    return (await uow.connection.execute(query)).scalar_one()  # type: ignore[no-any-return]


async def test_a_block_routed_at_birth_is_sent_once_even_if_the_process_dies_before_sending(desk: Desk) -> None:
    """With no block window the order's own transaction routes its block and the order goes straight to IB;
    if the process dies between that commit and the send, the next process sends it, once."""
    lost: list[BlockRecord] = []

    async def dies(block: BlockRecord) -> None:
        lost.append(block)  # the process dies here: the block is routed in the database, IB never heard of it

    settings = desk.settings.model_copy(update={"trading_block_window_ms": 0})
    trading = Trading(desk.db, MarketData(desk.connection, desk.clock), settings, send_block=dies)
    alice = await desk.investor()
    order = await trading.place_order(OrderRequest(alice, "born-routed", "AAPL", OrderSide.BUY, 3))
    assert len(lost) == 1 and lost[0].routed_at is not None and lost[0].quantity == 3
    async with desk.next_process() as router:
        await desk.settled(order.id)
        await router.resume()  # again: nothing is sent twice
        assert desk.sim.account.holdings[AAPL].quantity == 3
        await desk.assert_matches_simulator()


async def test_orders_cancelled_while_no_process_could_send_their_block_never_reach_ib(desk: Desk) -> None:
    """The block is routed in the database and the process dies before sending it; meanwhile one investor of
    two cancels. The next process sends the block for the one who stayed only."""
    alice, bob = await desk.investor(), await desk.investor()
    staying, leaving = await desk.order(alice, "buy", 4), await desk.order(bob, "buy", 6)
    desk.clock.advance(timedelta(milliseconds=desk.settings.trading_block_window_ms))
    [block] = await desk.db.transact(desk.router._claim_due)  # routed, never sent: the crash
    assert block.quantity == 10
    assert (await desk.trading.cancel_order(bob, leaving.id))[1] == block.id  # asked while nobody routes
    async with desk.next_process():
        await desk.settled(staying.id, leaving.id)
        assert (await desk.get(staying.id)).filled_quantity == 4
        assert (await desk.get(leaving.id)).status is OrderStatus.CANCELLED
        assert (await desk.get(leaving.id)).filled_quantity == 0
        assert desk.sim.account.holdings[AAPL].quantity == 4  # IB was asked for 4, not 10
        await desk.assert_matches_simulator()


async def test_a_block_everybody_left_before_it_was_sent_ends_without_reaching_ib(desk: Desk) -> None:
    alice = await desk.investor()
    order = await desk.order(alice, "buy", 5)
    desk.clock.advance(timedelta(milliseconds=desk.settings.trading_block_window_ms))
    assert len(await desk.db.transact(desk.router._claim_due)) == 1  # routed, never sent: the crash
    await desk.trading.cancel_order(alice, order.id)
    sent_before = desk.sim.next_order_id
    async with desk.next_process():
        await desk.settled(order.id)
        assert (await desk.get(order.id)).status is OrderStatus.CANCELLED
        assert desk.sim.next_order_id == sent_before  # IB never heard of it
        assert (await desk.cash(alice)).available == Decimal("100000.00")  # the hold given back
        await desk.assert_matches_simulator()


async def test_a_price_ib_corrects_after_the_fill_moves_the_brokers_cash_and_the_house_takes_it(desk: Desk) -> None:
    """IB's `.02` replaces the `.01` at another price: the books follow IB's cash (the omnibus identity holds),
    the investor keeps the price they were told, the house error account takes the difference, and the admins
    hear of it. Found by the simulation (tests/sim): before, the books kept the old price and drifted from IB."""
    alice = await desk.investor()
    order = await desk.order(alice, "buy", 8)
    await desk.route()
    await desk.settled(order.id)
    paid = (await desk.get(order.id)).filled_gross
    [first] = desk.sim.desk.executions
    error_before = await balance(desk.db, AccountKind.HOUSE_ERROR, USD)
    desk.sim.correct_execution(first.exec_id, first.price + Decimal("0.02"))
    await eventually(lambda: _booked(desk, f"{first.exec_id.rsplit('.', 1)[0]}.02"), what="the correction booked")
    await desk.assert_matches_simulator()
    assert (await desk.get(order.id)).filled_gross == paid
    assert await balance(desk.db, AccountKind.HOUSE_ERROR, USD) - error_before == Decimal("-0.16")
    told = await desk.db.transact(lambda uow: messages(uow, "broker.correction"), readonly=True)
    assert [m.payload["replaces"] for m in told] == [first.exec_id]
    desk.sim.correct_execution(f"{first.exec_id.rsplit('.', 1)[0]}.02", first.price)  # and back again
    await eventually(lambda: _booked(desk, f"{first.exec_id.rsplit('.', 1)[0]}.03"), what="the second correction")
    await desk.assert_matches_simulator()
    assert await balance(desk.db, AccountKind.HOUSE_ERROR, USD) == error_before


async def test_a_correction_made_while_no_process_listened_is_booked_as_a_correction(desk: Desk) -> None:
    """Our process is down when IB corrects an execution; the next one hears only of the `.02` (IB lists the
    latest revision) and must know it by what is booked, not book it as a new execution. Found by the
    simulation (a process dying at a commit): the block was filled twice and the house took the shares."""
    alice = await desk.investor()
    order = await desk.order(alice, "buy", 8)
    await desk.route()
    await desk.settled(order.id)
    [first] = desk.sim.desk.executions
    error_before = await balance(desk.db, AccountKind.HOUSE_ERROR, USD)
    await desk.connection.stop()  # the process dies
    corrected = desk.sim.correct_execution(first.exec_id, first.price + Decimal("0.02"))
    async with desk.next_process():
        await eventually(lambda: _booked(desk, corrected.exec_id), what="the correction recovered")
        await desk.assert_matches_simulator()
        assert (await desk.get(order.id)).filled_quantity == 8
        assert await balance(desk.db, AccountKind.HOUSE_ERROR, USD) - error_before == Decimal("-0.16")
        told = await desk.db.transact(lambda uow: messages(uow, "broker.correction"), readonly=True)
        assert [m.payload["replaces"] for m in told] == [first.exec_id]


async def _booked(desk: Desk, exec_id: str) -> bool:
    return await desk.db.transact(lambda uow: execution_booked(uow, exec_id), readonly=True)


async def test_a_confirmation_is_spent_in_the_orders_own_transaction(desk: Desk) -> None:
    """The order and the chat tap that asked for it are both, or neither: a refused order leaves the tap to be
    used again, a spent tap places nothing, and a placed order's tap is spent (the simulation found a process
    dying between the two, which left a confirmed order that never came and a button saying "already used")."""
    alice = await desk.investor("1000.00")

    async def offer(uow: UnitOfWork) -> str:
        return (await pending_actions.offer(uow, alice, "order", {}, timedelta(minutes=1))).token

    token = await desk.db.transact(offer)
    spend = functools.partial(pending_actions.take, token=token, user_id=alice, kind="order")
    with pytest.raises(InsufficientBuyingPower):  # refused: nothing written, the tap still live
        await desk.trading.place_order(OrderRequest(alice, f"bot/{token}", "AAPL", OrderSide.BUY, 100), spending=spend)
    await desk.db.transact(lambda uow: pending_actions.peek(uow, token, alice, "order"), readonly=True)

    order = await desk.trading.place_order(
        OrderRequest(alice, f"bot/{token}", "AAPL", OrderSide.BUY, 1), spending=spend
    )
    with pytest.raises(ActionUnavailable):  # spent with the order
        await desk.db.transact(lambda uow: pending_actions.peek(uow, token, alice, "order"), readonly=True)
    again = await desk.trading.place_order(
        OrderRequest(alice, f"bot/{token}", "AAPL", OrderSide.BUY, 1), spending=spend
    )
    assert again.id == order.id  # a second tap racing the first finds the order, and spends nothing

    other = await desk.db.transact(offer)
    await desk.db.transact(lambda uow: pending_actions.withdraw(uow, other, alice))  # Cancel was tapped first
    cancelled = functools.partial(pending_actions.take, token=other, user_id=alice, kind="order")
    with pytest.raises(ActionUnavailable):
        await desk.trading.place_order(
            OrderRequest(alice, f"bot/{other}", "AAPL", OrderSide.BUY, 1), spending=cancelled
        )
    orders = await desk.trading.recent_orders(alice)
    assert [o.client_key for o in orders] == [f"bot/{token}"]
    await desk.route()
    await desk.settled(order.id)
