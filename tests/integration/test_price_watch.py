"""The price watch against the simulator: alerts fire on simulated prices, once per crossing and not inside their
cooldown; a stop sells the position through the normal order flow when hit, and its target goes with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from alerts import store
from alerts.desk import AlertDesk
from alerts.models import ProtectKind, WatchStatus
from alerts.rules import Condition
from alerts.watcher import PriceWatcher
from broker import halts
from broker.market_data import MarketData
from broker.order_states import OrderStatus
from broker.orders import Trading
from core.errors import AlertRefused
from core.models import OutboxMessage
from ledger.accounts import AccountKind, Asset
from ledger.service import open_account
from tests.integration.trading_desk import AAPL, Desk
from tests.support import eventually

OUTBOX: Any = OutboxMessage.__table__


@dataclass
class Watch:
    desk: Desk
    watcher: PriceWatcher
    alerts: AlertDesk

    async def price(self, value: str) -> None:
        """Trade at this price on the simulator; the watcher sees the quote and finishes its round."""
        self.desk.sim.set_price("AAPL", Decimal(value))
        await eventually(lambda: self._seen(Decimal(value)), what=f"the quote at {value}")
        await self.watcher.flush()

    def _seen(self, value: Decimal) -> bool:
        return self.watcher.last_price(AAPL) == value

    async def told(self, topic: str) -> list[dict[str, Any]]:
        query = select(OUTBOX.c.payload).where(OUTBOX.c.topic == topic).order_by(OUTBOX.c.id)
        return list(await self.desk.db.transact(lambda uow: _scalars(uow, query), readonly=True))


async def _scalars(uow: Any, query: Any) -> list[Any]:
    return list((await uow.connection.execute(query)).scalars())


@pytest.fixture
async def watch(desk: Desk) -> AsyncIterator[Watch]:
    settings = desk.settings.model_copy(update={"trading_block_window_ms": 0, "alerts_sync_seconds": 3600})
    market = MarketData(desk.connection, desk.clock)
    trading = Trading(desk.db, market, settings, send_block=desk.router.send)
    watcher = PriceWatcher(desk.db, market, trading.place_order, settings)
    await watcher.start()
    yield Watch(desk, watcher, AlertDesk(desk.db, market, watcher, settings))
    await watcher.stop()


async def test_an_alert_fires_once_when_crossed_and_a_repeating_one_honours_its_cooldown(watch: Watch) -> None:
    desk = watch.desk
    owner = await desk.investor()
    desk.sim.set_price("AAPL", Decimal(190))  # nothing watches AAPL yet
    once = await watch.alerts.add_alert(owner, "aapl", Condition.ABOVE, Decimal(200), repeat=False)
    again = await watch.alerts.add_alert(
        owner, "AAPL", Condition.BELOW, Decimal(180), repeat=True, cooldown=timedelta(minutes=10)
    )
    with pytest.raises(AlertRefused, match="already above"):
        await watch.alerts.add_alert(owner, "AAPL", Condition.ABOVE, Decimal(150), repeat=False)

    for price in ("199.99", "200.00", "205.00", "199.00", "201.00"):  # crossed once; one-shot: done after
        await watch.price(price)
    fired = await watch.told("alert.price")
    assert [(f["alert_id"], Decimal(f["price"])) for f in fired] == [(str(once.id), Decimal(200))]
    assert [a.id for a in await desk.db.transact(lambda uow: store.active_alerts(uow, owner))] == [again.id]

    await watch.price("179.50")  # fires
    await watch.price("178.00")  # still below: not again
    await watch.price("185.00")  # back above: armed again
    desk.clock.advance(timedelta(minutes=5))
    await watch.price("179.00")  # crossed again, but inside the cooldown
    desk.clock.advance(timedelta(minutes=6))
    await watch.price("178.50")  # past the cooldown, still below: fires
    prices = [Decimal(f["price"]) for f in await watch.told("alert.price") if f["alert_id"] == str(again.id)]
    assert prices == [Decimal("179.50"), Decimal("178.50")]


async def test_a_stop_sells_the_position_at_market_when_hit_and_cancels_its_target(watch: Watch) -> None:
    desk = watch.desk
    owner = await holding_ten(desk)
    with pytest.raises(AlertRefused, match="a stop goes below the price"):
        await watch.alerts.check_protective(owner, "AAPL", ProtectKind.STOP, Decimal(201), None)
    with pytest.raises(AlertRefused, match="you hold 10 AAPL shares, not 11"):
        await watch.alerts.check_protective(owner, "AAPL", ProtectKind.STOP, Decimal(190), Decimal(11))
    for kind, level in ((ProtectKind.STOP, "190"), (ProtectKind.TARGET, "230")):
        order, selling, _price = await watch.alerts.check_protective(owner, "AAPL", kind, Decimal(level), None)
        assert selling == 10
        await watch.alerts.set_protective(order)

    await watch.price("195.00")
    await watch.price("189.90")  # the stop is hit
    sold = await watch.told("alert.protective_sold")
    assert [(s["kind"], Decimal(s["quantity"])) for s in sold] == [("stop", 10)]
    orders = await desk.db.transact(lambda uow: store.active_protective(uow, owner))
    assert orders == []  # the stop is done, the target cancelled with it
    rows = await desk.db.transact(lambda uow: _scalars(uow, select(store.PROTECTIVE.c.status)))
    assert sorted(rows) == [WatchStatus.DELETED, WatchStatus.DONE]
    sale = await desk.db.transact(
        lambda uow: _scalars(uow, select(store.PROTECTIVE.c.order_id).where(store.PROTECTIVE.c.kind == "stop"))
    )
    await eventually(lambda: desk.status_is(sale[0], OrderStatus.FILLED), what="the stop's sale filled")
    position = await desk.db.transact(lambda uow: _position(uow, owner))
    assert position == 0
    await watch.price("240.00")  # the target, cancelled, sells nothing more
    assert len(await watch.told("alert.protective_sold")) == 1
    await desk.assert_matches_simulator()


async def holding_ten(desk: Desk) -> Any:
    """An investor who bought 10 AAPL at 200."""
    owner = await desk.investor()
    desk.sim.set_price("AAPL", Decimal(200))
    bought = await desk.order(owner, "buy", 10)
    await desk.route()
    await desk.settled(bought.id)
    return owner


async def _position(uow: Any, owner: Any) -> Decimal:
    return (await open_account(uow, AccountKind.INVESTOR_POSITION, Asset.instrument(AAPL), owner)).balance


async def test_a_stop_whose_sale_is_refused_keeps_its_target_and_a_deleted_one_sells_nothing(watch: Watch) -> None:
    desk = watch.desk
    owner = await holding_ten(desk)
    orders = {}
    for kind, level in ((ProtectKind.STOP, "190"), (ProtectKind.TARGET, "230")):
        order, _selling, _price = await watch.alerts.check_protective(owner, "AAPL", kind, Decimal(level), None)
        orders[kind] = await watch.alerts.set_protective(order)

    await desk.db.transact(lambda uow: halts.set_halt(uow, AAPL, "news pending"))
    await watch.price("195.00")
    await watch.price("189.00")  # the stop is hit, but the sale is refused: the target stays
    [failed] = await watch.told("alert.protective_failed")
    assert failed["kind"] == "stop" and "halted" in failed["note"]
    left = await desk.db.transact(lambda uow: store.active_protective(uow, owner))
    assert [o.kind for o in left] == [ProtectKind.TARGET]

    await desk.db.transact(lambda uow: halts.clear_halt(uow, AAPL))
    await watch.alerts.add_alert(owner, "AAPL", Condition.ABOVE, Decimal(500), repeat=False)  # keeps AAPL streamed
    await watch.alerts.delete(owner, orders[ProtectKind.TARGET].id)
    await watch.price("231.00")  # past the deleted target: nothing sold
    assert await watch.told("alert.protective_sold") == []
    assert await desk.db.transact(lambda uow: _position(uow, owner)) == 10


async def test_a_sale_left_half_done_by_a_crash_is_finished_once_by_the_next_watcher(watch: Watch) -> None:
    desk = watch.desk
    owner = await holding_ten(desk)
    order, _selling, _price = await watch.alerts.check_protective(owner, "AAPL", ProtectKind.STOP, Decimal(190), None)
    await watch.alerts.set_protective(order)
    # A watcher claimed the hit stop, then died before placing (or recording) the sale.
    assert await desk.db.transact(lambda uow: store.claim_protective(uow, order.id))
    await watch.watcher.sync()
    await watch.watcher.flush()
    await watch.watcher.sync()  # and again: the sale is not placed twice
    await watch.watcher.flush()
    [sold] = await watch.told("alert.protective_sold")
    assert Decimal(sold["quantity"]) == 10
    await eventually(lambda: _flat(desk, owner), what="the sale filled")
    await desk.assert_matches_simulator()


async def _flat(desk: Desk, owner: Any) -> bool:
    return await desk.db.transact(lambda uow: _position(uow, owner)) == 0
