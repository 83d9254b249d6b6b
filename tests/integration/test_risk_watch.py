"""The watch on abnormal situations, against the simulator: the admins hear of an IB outage longer than the
threshold (and of its end); a day's fall past the threshold is told once, a deposit not counted as a gain; a
margin account left below maintenance past its deadline is sold back above it by the house."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from alerts.broker_watch import BrokerWatch
from alerts.risk_watch import CALLS, RiskWatch
from broker import margin_service
from broker.events import ConnectionState
from broker.margin import AccountType, figures
from broker.market_data import MarketData
from broker.orders import Trading
from core.calendar import trade_date
from core.models import OutboxMessage
from ledger import operations
from ledger.portfolio import equity_curve, record_equity
from tests.integration.trading_desk import AAPL, Desk
from tests.support import eventually

OUTBOX: Any = OutboxMessage.__table__


async def told(desk: Desk, topic: str) -> list[dict[str, Any]]:
    query = select(OUTBOX.c.payload).where(OUTBOX.c.topic == topic).order_by(OUTBOX.c.id)
    return await desk.db.transact(lambda uow: _all(uow, query), readonly=True)


async def _all(uow: Any, query: Any) -> list[Any]:
    return list((await uow.connection.execute(query)).scalars())


async def test_the_admins_hear_of_an_outage_longer_than_the_threshold_and_of_its_end(desk: Desk) -> None:
    watch = BrokerWatch(desk.db, down_seconds=0.3)
    desk.connection.subscribe(watch.on_event)
    desk.sim.connectivity_lost()
    desk.sim.connectivity_restored(data_lost=False)  # a blip: nothing said
    await eventually(lambda: desk.connection.state is ConnectionState.READY, what="ready after the blip")
    desk.sim.connectivity_lost()
    await eventually(lambda: _said(desk, "admin.broker_down"), what="the outage told")
    desk.sim.connectivity_restored(data_lost=False)
    await eventually(lambda: _said(desk, "admin.broker_up"), what="the end told")
    assert [len(await told(desk, t)) for t in ("admin.broker_down", "admin.broker_up")] == [1, 1]
    await watch.stop()


async def _said(desk: Desk, topic: str) -> bool:
    return bool(await told(desk, topic))


def watch_of(desk: Desk, **settings: Any) -> RiskWatch:
    changed = desk.settings.model_copy(update={"trading_block_window_ms": 0, **settings})
    market = MarketData(desk.connection, desk.clock, fresh_seconds=0)
    trading = Trading(desk.db, market, changed, send_block=desk.router.send)
    return RiskWatch(desk.db, market, changed, trading.place_order)


async def test_a_days_fall_is_told_once_and_money_moved_in_is_not_a_gain(desk: Desk) -> None:
    falling, depositing = await desk.investor("10000.00"), await desk.investor("10000.00")
    desk.sim.set_price("AAPL", Decimal(200))
    bought = await desk.order(falling, "buy", 20)
    await desk.route()
    await desk.settled(bought.id)
    yesterday = trade_date(desk.clock.now())  # the day of the deposits and the purchase, valued at its end
    for owner in (falling, depositing):
        await desk.db.transact(lambda uow, o=owner: record_equity(uow, o, yesterday, Decimal(10_000)))
    desk.clock.advance(timedelta(days=1))
    await desk.db.transact(lambda uow: operations.deposit(uow, depositing, Decimal(5000), key="dep-today"))
    desk.sim.set_price("AAPL", Decimal(150))  # 20 shares lose 1,000: about 10 % of 10,000
    watch = watch_of(desk)
    await watch.run()
    await watch.run()  # once a day, however many rounds
    [fall] = await told(desk, "risk.drawdown")
    assert fall["owner_id"] == str(falling) and Decimal("10") <= Decimal(fall["pct"]) < Decimal("10.2")
    today = trade_date(desk.clock.now())
    curve = await desk.db.transact(lambda uow: equity_curve(uow, depositing, yesterday))
    assert curve == [(yesterday, Decimal(10_000)), (today, Decimal(15_000))]


async def test_a_margin_call_past_its_deadline_is_sold_back_above_maintenance(desk: Desk) -> None:
    owner = await desk.investor("5000.00")
    await desk.db.transact(lambda uow: margin_service.set_account_type(uow, owner, AccountType.MARGIN))
    desk.sim.set_price("AAPL", Decimal(100))
    bought = await desk.order(owner, "buy", math.floor(Decimal(8000) / desk.sim.quote("AAPL").ask))
    await desk.route()
    await desk.settled(bought.id)
    held = int((await desk.get(bought.id)).filled_quantity)  # 80 at about 100: 3,000 borrowed
    desk.sim.set_price("AAPL", Decimal(50))  # 80 at 50: equity 999 against 1,000 of maintenance
    watch = watch_of(desk, margin_call_policy="liquidate", margin_call_grace_hours=1)
    await watch.run()
    assert len(await told(desk, "margin.maintenance_breach")) == 1
    assert await desk.db.transact(lambda uow: _all(uow, select(CALLS.c.status))) == ["open"]
    await watch.run()  # before the deadline: nothing sold
    assert await told(desk, "risk.liquidated") == []

    desk.clock.advance(timedelta(hours=1, minutes=1))
    await watch.run()
    [sold] = await told(desk, "risk.liquidated")
    assert sold["sales"][0]["symbol"] == "AAPL" and 0 < Decimal(sold["sales"][0]["quantity"]) < held
    await eventually(lambda: _cured(desk, owner, held), what="the house's sale filled")
    assert await desk.db.transact(lambda uow: _all(uow, select(CALLS.c.status))) == ["liquidated"]
    await desk.assert_matches_simulator()


async def _cured(desk: Desk, owner: Any, held: int) -> bool:
    marks = {AAPL: Decimal(50)}
    account = await desk.db.transact(lambda uow: margin_service.margin_account(uow, owner, marks))
    rules = await desk.db.transact(lambda uow: margin_service.policy(uow, desk.settings))
    return account.holdings[0].quantity < held and not figures(account, rules).maintenance_breach
