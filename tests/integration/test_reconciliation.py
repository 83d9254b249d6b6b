"""Reconciliation against the simulator, with breaks injected at IB: a trade placed there by hand, an execution
whose commission never came (so never booked), a position changed by hand. Books that match show no break; a
break keeps its first sighting, is told to the admins, halts trading when asked, and clears when it is gone;
a missing commission is asked for again, and the execution booked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ib_async import MarketOrder, Stock

from broker import halts
from broker.omnibus import OmnibusAccount
from broker.reconciler import Reconciler
from core.outbox import messages
from ledger.reconciliation import CASH, EXECUTION, POSITION
from payments import funding
from tests.integration.trading_desk import AAPL, SIM_CASH, Desk
from tests.support import connect, eventually


async def _reconciler(desk: Desk, *, halt: bool = False) -> Reconciler:
    """The books opened with the cash the simulator's account starts with (as the operator's first transfer)."""
    sent = await desk.db.transact(lambda uow: funding.record_sent(uow, SIM_CASH, to_ib=True, note="opening"))
    await desk.db.transact(lambda uow: funding.mark_arrived(uow, sent))
    settings = desk.settings.model_copy(update={"reconciliation_halt": halt, "reconciliation_grace_seconds": 60})
    return Reconciler(desk.db, desk.connection, OmnibusAccount(desk.connection), settings)


async def _trade(desk: Desk, quantity: int = 10) -> None:
    owner = await desk.investor()
    order = await desk.order(owner, "buy", quantity)
    await desk.route()
    await desk.settled(order.id)


async def test_books_that_match_ib_show_no_break(desk: Desk) -> None:
    reconciler = await _reconciler(desk)
    await _trade(desk)
    assert await reconciler.run() == []


async def test_a_trade_placed_by_hand_at_ib_is_a_position_and_an_execution_break(desk: Desk) -> None:
    reconciler = await _reconciler(desk)
    await _trade(desk)
    by_hand = await connect(desk.sim.port, client_id=77)
    try:
        trade = by_hand.placeOrder(Stock(conId=AAPL, exchange="SMART"), MarketOrder("BUY", 5, orderRef="by hand"))
        await eventually(lambda: trade.isDone(), what="the trade by hand filled")
    finally:
        by_hand.disconnect()
    await eventually(lambda: _ib_position(desk) == Decimal(15), what="IB's position updated")
    found = await reconciler.run()
    kinds = {(b.kind, b.key) for b in found}
    assert (POSITION, str(AAPL)) in kinds and any(kind == EXECUTION for kind, _key in kinds)
    assert (CASH, "USD") in kinds  # IB paid for the shares; the books did not
    position = next(b for b in found if b.kind == POSITION)
    assert (position.expected, position.actual) == (Decimal(10), Decimal(15))
    alerts = [m for m in await desk.db.transact(lambda uow: messages(uow, "admin.reconciliation_break"))]
    assert len(alerts) == len(found)
    again = await reconciler.run()
    assert [b.first_seen for b in again] == [b.first_seen for b in found]  # the same breaks, older
    assert len(await desk.db.transact(lambda uow: messages(uow, "admin.reconciliation_break"))) == len(found)


async def test_an_execution_whose_commission_never_came_is_in_flight_then_asked_for_again_and_booked(
    desk: Desk,
) -> None:
    reconciler = await _reconciler(desk)
    desk.sim.plan_next_order(commission="withheld")  # IB reports it only when asked for the executions again
    owner = await desk.investor()
    order = await desk.order(owner, "buy", 10)
    await desk.route()
    await eventually(lambda: _ib_position(desk) == Decimal(10), what="IB filled the order")
    desk.clock.set(datetime.now(UTC))  # the simulator stamps executions with the real time
    assert await reconciler.run() == []  # within the grace, in flight; and asking for executions brings it
    await desk.settled(order.id)
    assert await reconciler.run() == []  # booked: positions and cash agree (with the opening transfer)


async def test_a_position_changed_by_hand_at_ib_breaks_halts_and_clears_when_put_back(desk: Desk) -> None:
    reconciler = await _reconciler(desk, halt=True)
    await _trade(desk)
    desk.sim.account.holdings[AAPL].quantity += Decimal(3)
    desk.sim.account_changed(AAPL)
    await eventually(lambda: _ib_position(desk) == Decimal(13), what="IB's position changed")
    [moved] = await reconciler.run()
    assert (moved.kind, moved.expected, moved.actual) == (POSITION, Decimal(10), Decimal(13))
    stopped = await desk.db.transact(lambda uow: halts.halts_for(uow, AAPL))
    assert any(con_id == halts.KILL_SWITCH for con_id, _reason in stopped)  # until an admin resumes
    desk.sim.account.holdings[AAPL].quantity -= Decimal(3)
    desk.sim.account_changed(AAPL)
    await eventually(lambda: _ib_position(desk) == Decimal(10), what="IB's position put back")
    assert await reconciler.run() == []  # cleared


def _ib_position(desk: Desk) -> Decimal:
    return Decimal(str(sum(p.position for p in desk.connection.ib.positions() if p.contract.conId == AAPL)))
