"""The one shared IB connection (broker.connection) with the real ib_async over loopback against the simulator:
orders, fills exactly once with their commissions, rejections, recovery after drops and restarts, pacing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from broker.connection import IBConnection
from broker.events import (
    BrokerEvent,
    ConnectionState,
    OrderAcknowledged,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderTicket,
)
from broker.market_data import MarketData
from broker.omnibus import OmnibusAccount
from broker.sim.gateway import GatewaySimulator
from core.clock import SystemClock
from core.config import Settings
from core.errors import BrokerUnavailable
from tests.support import connect, eventually

AAPL, MSFT, SPY = 265598, 272093, 756733


class Recorder:
    def __init__(self) -> None:
        self.events: list[BrokerEvent] = []

    async def __call__(self, event: BrokerEvent) -> None:
        self.events.append(event)

    def of(self, kind: type, order_ref: str | None = None) -> list[BrokerEvent]:
        return [e for e in self.events if isinstance(e, kind) and getattr(e, "order_ref", order_ref) == order_ref]

    def fills(self, order_ref: str) -> list[OrderFilled]:
        return [e for e in self.events if isinstance(e, OrderFilled) and e.order_ref == order_ref]


def settings_for(port: int) -> Settings:
    return Settings(
        ib_port=port,
        ib_client_id=11,
        ib_reconnect_min_seconds=0.05,
        ib_reconnect_max_seconds=0.2,
        ib_commission_wait_seconds=0.2,
        ib_connect_timeout_seconds=5,
    )


@pytest.fixture
async def broker(simulator: GatewaySimulator) -> AsyncIterator[tuple[IBConnection, Recorder]]:
    connection = IBConnection(settings_for(simulator.port), SystemClock())
    recorder = Recorder()
    connection.subscribe(recorder)
    await connection.start()
    await connection.wait_ready()
    yield connection, recorder
    await connection.stop()


def market(order_ref: str, con_id: int, side: str, quantity: int) -> OrderTicket:
    return OrderTicket(order_ref, con_id, side, Decimal(quantity))


async def test_it_connects_recovers_then_says_ready(broker: tuple[IBConnection, Recorder]) -> None:
    connection, recorder = broker
    status = connection.status()
    assert status.state == ConnectionState.READY and status.connected_since is not None
    states = [e.state for e in recorder.events if hasattr(e, "state")]
    await eventually(lambda: ConnectionState.READY in [e.state for e in recorder.events if hasattr(e, "state")])
    assert states[:2] == [ConnectionState.CONNECTING, ConnectionState.RECOVERING]
    assert connection.account == "DU7654321"


async def test_contracts_and_quotes(simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]) -> None:
    data = MarketData(broker[0], SystemClock())
    aapl = await data.qualify("aapl")
    assert aapl is not None and (aapl.con_id, aapl.primary_exchange, aapl.description) == (AAPL, "NASDAQ", "APPLE INC")
    assert await data.qualify("NOSUCH") is None
    quote = await data.quote(AAPL)
    assert (quote.bid, quote.ask) == (simulator.quote("AAPL").bid, simulator.quote("AAPL").ask)
    assert not quote.delayed
    seen: list[Decimal | None] = []
    stop = data.stream(SPY, lambda q: seen.append(q.last))
    simulator.set_price("SPY", Decimal("601.25"))
    await eventually(lambda: Decimal("601.25") in seen, what="the streamed price")
    stop()


async def test_a_market_buy_is_acknowledged_then_filled_with_its_commission(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    ask = simulator.quote("AAPL").ask
    await connection.place(market("blk-1", AAPL, "BUY", 300))
    await eventually(lambda: recorder.fills("blk-1"), what="the fill")
    [ack] = recorder.of(OrderAcknowledged, "blk-1")
    [fill] = recorder.fills("blk-1")
    assert recorder.events.index(ack) < recorder.events.index(fill)
    assert (fill.side, fill.quantity, fill.price, fill.commission) == ("BUY", 300, ask, Decimal("1.5"))
    assert fill.symbol == "AAPL" and fill.con_id == AAPL and fill.at.tzinfo is not None and fill.replaces is None
    assert await OmnibusAccount(connection).positions() == {AAPL: Decimal(300)}


async def test_a_limit_sell_rests_until_the_price_reaches_it(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    await connection.place(market("buy", MSFT, "BUY", 10))
    await eventually(lambda: recorder.fills("buy"))
    target = simulator.quote("MSFT").ask + 5
    await connection.place(OrderTicket("sell", MSFT, "SELL", Decimal(10), target, "GTC"))
    await eventually(lambda: recorder.of(OrderAcknowledged, "sell"), what="the acknowledgement")
    assert not recorder.fills("sell")
    simulator.set_price("MSFT", target + 1)
    await eventually(lambda: recorder.fills("sell"), what="the fill at the limit")
    assert recorder.fills("sell")[0].price >= target


async def test_partial_fills_are_each_delivered_once(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    simulator.plan_next_order(slices=[Decimal(40), Decimal(35)])
    await connection.place(market("part", SPY, "BUY", 100))
    await eventually(lambda: len(recorder.fills("part")) == 1)
    simulator.step()
    simulator.step()
    await eventually(lambda: len(recorder.fills("part")) == 3, what="three partial fills")
    fills = recorder.fills("part")
    assert [f.quantity for f in fills] == [40, 35, 25] and [f.cumulative_quantity for f in fills] == [40, 75, 100]
    assert sum(f.commission for f in fills) == Decimal("1.00")


async def test_cancel_gives_cancelled(broker: tuple[IBConnection, Recorder]) -> None:
    connection, recorder = broker
    await connection.place(OrderTicket("rest", AAPL, "BUY", Decimal(5), Decimal("1.00"), "GTC"))
    await eventually(lambda: recorder.of(OrderAcknowledged, "rest"))
    assert connection.cancel("rest")
    await eventually(lambda: recorder.of(OrderCancelled, "rest"), what="the cancellation")
    assert not connection.cancel("rest") and not connection.cancel("never-placed")
    assert not recorder.of(OrderRejected, "rest")


@pytest.mark.parametrize(
    ("ticket", "code"),
    [
        (OrderTicket("frac", AAPL, "BUY", Decimal("1.5")), 10243),
        (OrderTicket("huge", AAPL, "BUY", Decimal(100_000)), 201),
        (OrderTicket("nosuch", 1, "BUY", Decimal(1)), 200),
    ],
)
async def test_rejections_carry_ibs_code(broker: tuple[IBConnection, Recorder], ticket: OrderTicket, code: int) -> None:
    connection, recorder = broker
    await connection.place(ticket)
    await eventually(lambda: recorder.of(OrderRejected, ticket.order_ref), what=f"rejection {code}")
    [rejected] = recorder.of(OrderRejected, ticket.order_ref)
    assert isinstance(rejected, OrderRejected) and rejected.code == code and rejected.text
    assert not recorder.of(OrderCancelled, ticket.order_ref)


async def test_the_next_order_rejected_by_plan(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    simulator.plan_next_order(reject="not today")
    await connection.place(market("planned", AAPL, "BUY", 1))
    await eventually(lambda: recorder.of(OrderRejected, "planned"))


async def test_what_if_and_account_summary(simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]) -> None:
    account = OmnibusAccount(broker[0])
    impact = await account.what_if(market("w", SPY, "BUY", 100))
    mid = simulator.quote("SPY").mid
    assert impact.initial_change == (100 * mid / 2).quantize(Decimal("0.01"))
    assert impact.commission == Decimal(1) and not impact.warning
    summary = await account.summary()
    assert summary["NetLiquidation"] == Decimal("1000000.00") and summary["BuyingPower"] > 0
    assert simulator.desk.orders == {}


async def test_commission_reports_before_or_withheld_are_never_lost(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    simulator.plan_next_order(commission="before")
    await connection.place(market("early", AAPL, "BUY", 10))
    await eventually(lambda: recorder.fills("early"), what="the fill whose commission came first")
    simulator.plan_next_order(commission="withheld")
    await connection.place(market("late", AAPL, "BUY", 10))
    await eventually(lambda: recorder.fills("late"), what="the fill whose commission was withheld")
    assert recorder.fills("early")[0].commission == recorder.fills("late")[0].commission == Decimal(1)


async def test_duplicates_are_dropped_and_corrections_replace(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    await connection.place(market("fix", MSFT, "BUY", 10))
    await eventually(lambda: recorder.fills("fix"))
    [first] = recorder.fills("fix")
    simulator.resend_execution(first.exec_id)
    corrected = simulator.correct_execution(first.exec_id, first.price - Decimal("0.05"))
    await eventually(lambda: len(recorder.fills("fix")) == 2, what="the correction")
    await asyncio.sleep(0.1)
    [_, correction] = recorder.fills("fix")
    assert correction.exec_id == corrected.exec_id and correction.replaces == first.exec_id
    assert correction.price == first.price - Decimal("0.05")


async def test_a_drop_in_the_middle_of_fills_recovers_every_fill_exactly_once(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    simulator.plan_next_order(slices=[Decimal(10), Decimal(10)])
    await connection.place(market("mid", AAPL, "BUY", 30))
    await eventually(lambda: len(recorder.fills("mid")) == 1)
    simulator.drop_clients()
    simulator.step()  # the remaining slices fill at IB while we are away
    simulator.step()
    await eventually(lambda: len(recorder.fills("mid")) == 3, what="the fills made while disconnected")
    await eventually(lambda: connection.status().state == ConnectionState.READY)
    assert [f.cumulative_quantity for f in recorder.fills("mid")] == [10, 20, 30]
    assert len({f.exec_id for f in recorder.fills("mid")}) == 3


async def test_a_gateway_restart_while_an_order_rests(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    limit = simulator.quote("SPY").bid - 10
    await connection.place(OrderTicket("gtc", SPY, "BUY", Decimal(3), limit, "GTC"))
    await eventually(lambda: recorder.of(OrderAcknowledged, "gtc"))
    restart = asyncio.create_task(simulator.restart(down_for=0.5))
    await eventually(lambda: connection.status().state != ConnectionState.READY, what="the drop")
    simulator.set_price("SPY", limit - 1)  # fills at IB while the gateway is down
    with pytest.raises(BrokerUnavailable):
        await connection.wait_ready(within=0.05)
    placing = asyncio.create_task(connection.place(market("after", AAPL, "BUY", 1)))  # waits for recovery
    await restart
    await eventually(lambda: recorder.fills("gtc") and recorder.fills("after"), what="recovery and the new order")
    assert len(recorder.fills("gtc")) == 1
    await placing


async def test_placing_the_same_order_ref_twice_sends_one_order(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    first = await connection.place(market("once", AAPL, "BUY", 2))
    second = await connection.place(market("once", AAPL, "BUY", 2))
    assert first == second
    await eventually(lambda: recorder.fills("once"))
    assert simulator.positions() == {"AAPL": Decimal(2)}


async def test_connectivity_lost_holds_orders_until_restored(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, _ = broker
    data = MarketData(connection, SystemClock())
    seen: list[Decimal | None] = []
    data.stream(AAPL, lambda q: seen.append(q.last))
    simulator.connectivity_lost()
    await eventually(lambda: connection.status().state == ConnectionState.IB_UNREACHABLE)
    with pytest.raises(BrokerUnavailable):
        await connection.wait_ready(within=0.05)
    simulator.connectivity_restored(data_lost=True)
    await eventually(lambda: connection.status().state == ConnectionState.READY, what="ready again")
    simulator.set_price("AAPL", Decimal("250.00"))
    await eventually(lambda: Decimal("250") in seen, what="quotes after resubscribing")


async def test_pacing_many_orders_at_once_never_exceeds_ibs_limit(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    errors: list[int] = []
    connection.ib.errorEvent += lambda _req, code, *_rest: errors.append(code)
    for n in range(120):
        await connection.place(OrderTicket(f"p{n}", AAPL, "BUY", Decimal(1), Decimal("1.00"), "GTC"))
    acks = lambda: sum(1 for e in recorder.events if isinstance(e, OrderAcknowledged))  # noqa: E731
    await eventually(lambda: acks() == 120, within=15, what="120 acknowledgements")
    assert 100 not in errors


async def test_another_client_at_the_same_time_sees_its_own_orders_only(
    simulator: GatewaySimulator, broker: tuple[IBConnection, Recorder]
) -> None:
    connection, recorder = broker
    other = await connect(simulator.port, 12)
    try:
        from ib_async import MarketOrder, Stock

        trade = other.placeOrder(Stock(conId=AAPL, exchange="SMART"), MarketOrder("BUY", 1, orderRef="theirs"))
        await eventually(trade.isDone)
        await connection.place(market("ours", AAPL, "BUY", 1))
        await eventually(lambda: recorder.fills("ours"))
        assert not recorder.fills("theirs")
        assert sorted(simulator.clients) == [11, 12]
    finally:
        other.disconnect()
