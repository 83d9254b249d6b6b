"""Copy trading through the simulator: a leader and their followers (proportional, ratio, alerts only), the
leader's fills mirrored into one block per fill, partial fills, a sale of half, a copy's stop-loss, stopping
with the positions closed or kept. After every step the books balance and match the simulator's account."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import pytest
from sqlalchemy import select

from broker.market_data import MarketData
from broker.order_states import OrderSide, OrderStatus
from broker.order_store import ORDERS, OrderRecord
from copytrade import leaders
from copytrade.desk import CopyDesk, last_month_end
from copytrade.store import CopyRecord, copy_by_id
from copytrade.terms import CopyMode, CopyStatus, CopyTerms, Sizing
from core import user_service
from core.db import UnitOfWork
from core.errors import CopyRefused
from core.outbox import messages
from core.users import UserStatus
from ledger.portfolio import book
from ledger.sleeves import sleeve_shares
from ledger.statement import statement
from tests.integration.trading_desk import AAPL, Desk
from tests.support import eventually

pytestmark = pytest.mark.usefixtures("desk")


@dataclass
class CopyFloor:
    """The trading desk with a copy desk following its fills, and a leader to follow."""

    desk: Desk
    copies: CopyDesk
    leader: UUID

    async def follower(self, cash: str, terms: CopyTerms, alias: str = "Ada") -> tuple[UUID, CopyRecord]:
        investor = await self.desk.investor(cash)
        return investor, await self.copies.follow(investor, alias, terms)

    async def leader_trades(self, side: str, quantity: int) -> OrderRecord:
        order = await self.desk.order(self.leader, side, quantity)
        await self.desk.route()
        await self.desk.settled(order.id)
        return order

    async def mirror(self) -> list[OrderRecord]:
        """Mirror what the leader's fills signalled, send the copies' blocks, and wait for them to end."""
        before = {o.id for o in await self.copy_orders()}
        await self.copies.mirror_pending()
        await self.desk.route()
        placed = [o for o in await self.copy_orders() if o.id not in before]
        await self.desk.settled(*(o.id for o in placed))
        await self.desk.assert_matches_simulator()
        return [await self.desk.get(o.id) for o in placed]

    async def copy_orders(self) -> list[OrderRecord]:
        async def read(uow: UnitOfWork) -> list[OrderRecord]:
            rows = await uow.connection.execute(select(ORDERS.c.id).where(ORDERS.c.sleeve_id.is_not(None)))
            return [r.id for r in rows]  # type: ignore[misc]

        ids = await self.desk.db.transact(read, readonly=True)
        return [await self.desk.get(order_id) for order_id in ids]  # type: ignore[arg-type]

    async def shares(self, copy: CopyRecord) -> Decimal:
        found = await self.desk.db.transact(lambda uow: sleeve_shares(uow, copy.id), readonly=True)
        return found.get(AAPL, Decimal(0))

    async def copy(self, copy: CopyRecord) -> CopyRecord:
        found = await self.desk.db.transact(lambda uow: copy_by_id(uow, copy.id), readonly=True)
        assert found is not None
        return found

    async def topics(self, owner: UUID) -> list[str]:
        found = await self.desk.db.transact(lambda uow: messages(uow, limit=10_000), readonly=True)
        return [m.topic for m in found if m.payload.get("owner_id") == str(owner)]


@pytest.fixture
async def floor(desk: Desk) -> CopyFloor:
    copies = CopyDesk(desk.db, desk.settings, MarketData(desk.connection, desk.clock, fresh_seconds=0))
    desk.router.follow_fills(copies)
    leader = await desk.investor("100000.00")
    pending = await desk.db.transact(
        lambda uow: leaders.become_leader(uow, desk.settings, leader, "Ada", "US large caps", Decimal(10))
    )
    assert pending.status.value == "pending"  # the platform asks an admin first (the default)
    with pytest.raises(CopyRefused):
        await copies.follow(await desk.investor("1000.00"), "ada", CopyTerms(CopyMode.ALERTS))
    await desk.db.transact(lambda uow: leaders.review_leader(uow, leader, approve=True))
    return CopyFloor(desk, copies, leader)


def proportional(amount: str, stop_loss: str = "50") -> CopyTerms:
    return CopyTerms(CopyMode.COPY, Decimal(amount), stop_loss_pct=Decimal(stop_loss))


async def test_a_leader_with_three_followers_buys_fills_in_parts_sells_half_and_a_stop_loss_closes_one(
    floor: CopyFloor,
) -> None:
    desk = floor.desk
    prop_owner, prop = await floor.follower("50000.00", proportional("20000", stop_loss="5"))
    ratio_owner, ratio = await floor.follower(
        "50000.00", CopyTerms(CopyMode.COPY, Decimal(30000), Sizing.RATIO, Decimal("0.5"), stop_loss_pct=Decimal(50))
    )
    alerts_owner, _alerts = await floor.follower("0", CopyTerms(CopyMode.ALERTS), alias="@ADA")
    assert (await desk.cash(prop_owner)).balance == Decimal(30000)  # the rest went into the copy's sleeve

    await floor.leader_trades("buy", 100)
    first = await floor.mirror()
    assert len({o.block_id for o in first}) == 1  # every copier in one block: one IB order
    assert {o.owner_id: o.filled_quantity for o in first} == {prop_owner: 20, ratio_owner: 50}
    assert all(o.status is OrderStatus.FILLED and o.sleeve_id is not None for o in first)
    assert "copy.alert" in await floor.topics(alerts_owner)
    assert "order.filled" in await floor.topics(prop_owner)  # each copier hears of their copied fill

    # The leader's next buy fills in two executions: the copies follow the running total, rounding down once.
    desk.sim.plan_next_order(slices=[Decimal(10), Decimal(20)])
    order = await floor.desk.order(floor.leader, "buy", 30)
    await desk.route()
    await eventually(lambda: desk.filled_at_least(order.id, Decimal(10)), what="the first execution was booked")
    await floor.mirror()
    desk.sim.step()
    await desk.settled(order.id)
    await floor.mirror()
    # 50 + 15 for the ratio; the proportional copy's equity is a little under a fifth of the leader's (the
    # spread and commissions): 1.99.. then 5.99.. shares of the running total, rounded down: 20 + 5.
    assert (await floor.shares(prop), await floor.shares(ratio)) == (25, 65)

    await floor.leader_trades("sell", 65)  # half of the leader's 130
    sold = await floor.mirror()
    assert {o.owner_id: (o.side, o.filled_quantity) for o in sold} == {
        prop_owner: (OrderSide.SELL, 13),
        ratio_owner: (OrderSide.SELL, 33),
    }  # each keeps half of its shares, rounded down
    assert (await floor.shares(prop), await floor.shares(ratio)) == (12, 32)

    # AAPL falls: the proportional copy (stop-loss 5 %) is closed, the ratio copy (50 %) goes on.
    desk.sim.set_price("AAPL", Decimal(140))
    assert await floor.copies.watch_limits() == 1
    assert (await floor.copy(prop)).status is CopyStatus.STOPPING
    await _until_stopped(floor, prop)
    await desk.assert_matches_simulator()
    stopped = await floor.copy(prop)
    assert stopped.stop_reason.startswith("stop-loss hit")
    assert await floor.shares(prop) == 0
    own = await desk.db.transact(lambda uow: book(uow, prop_owner, desk.clock.now().date()), readonly=True)
    assert own.holdings == () and own.cash > Decimal(48_000)  # all of the copy's cash came back
    assert "copy.stopped" in await floor.topics(prop_owner)
    assert (await floor.copy(ratio)).status is CopyStatus.ACTIVE

    # The ratio copy stops, closing its position.
    await floor.copies.stop_copy(ratio_owner, ratio.id, keep_positions=False)
    await desk.route()
    await _until_stopped(floor, ratio)
    assert await floor.shares(ratio) == 0
    await desk.assert_matches_simulator()


async def test_stopping_a_copy_and_keeping_its_positions_moves_them_with_their_cost(floor: CopyFloor) -> None:
    owner, copy = await floor.follower("30000.00", proportional("20000"))
    await floor.leader_trades("buy", 100)
    [bought] = await floor.mirror()
    stopped = await floor.copies.stop_copy(owner, copy.id, keep_positions=True)
    assert stopped.status is CopyStatus.STOPPED
    own = await floor.desk.db.transact(lambda uow: book(uow, owner, floor.desk.clock.now().date()), readonly=True)
    [holding] = own.holdings
    assert holding.quantity == bought.filled_quantity == 20
    assert holding.cost_basis == bought.filled_gross + bought.commission
    assert own.cash == Decimal(30000) - holding.cost_basis
    await floor.desk.assert_matches_simulator()


async def test_a_paused_copy_skips_the_trade_visibly_and_a_frozen_leader_is_not_mirrored(floor: CopyFloor) -> None:
    paused_owner, paused = await floor.follower("30000.00", proportional("20000"))
    active_owner, _active = await floor.follower("30000.00", proportional("20000"))
    await floor.copies.set_paused(paused_owner, paused.id, paused=True)
    await floor.leader_trades("buy", 10)
    [mirrored] = await floor.mirror()
    assert mirrored.owner_id == active_owner
    assert "copy.skipped" in await floor.topics(paused_owner)

    await floor.leader_trades("buy", 10)
    await floor.desk.db.transact(lambda uow: user_service.change_status(uow, floor.leader, UserStatus.FROZEN))
    assert await floor.mirror() == []
    assert "copy.leader_inactive" in await floor.topics(active_owner)


async def test_following_is_refused_for_oneself_twice_in_a_circle_or_on_bad_terms(floor: CopyFloor) -> None:
    copies, desk = floor.copies, floor.desk
    with pytest.raises(CopyRefused, match="yourself"):
        await copies.follow(floor.leader, "Ada", CopyTerms(CopyMode.ALERTS))
    owner, _copy = await floor.follower("30000.00", proportional("20000"))
    with pytest.raises(CopyRefused, match="already follow"):
        await copies.follow(owner, "Ada", CopyTerms(CopyMode.ALERTS))
    await desk.db.transact(lambda uow: leaders.become_leader(uow, desk.settings, owner, "Bob", "", Decimal(0)))
    await desk.db.transact(lambda uow: leaders.review_leader(uow, owner, approve=True))
    with pytest.raises(CopyRefused, match="loop"):
        await copies.follow(floor.leader, "bob", proportional("20000"))
    await copies.follow(floor.leader, "bob", CopyTerms(CopyMode.ALERTS))  # alerts copy nothing: no loop
    someone = await desk.investor("1000.00")
    for terms, problem in [
        (proportional("100"), "at least"),
        (proportional("500", stop_loss="2"), "stop-loss"),
        (CopyTerms(CopyMode.COPY, Decimal(500), Sizing.RATIO, None, stop_loss_pct=Decimal(10)), "ratio"),
    ]:
        with pytest.raises(CopyRefused, match=problem):
            await copies.follow(someone, "Ada", terms)
    with pytest.raises(Exception, match="available"):
        await copies.follow(someone, "Ada", proportional("5000"))  # more than the free cash
    assert (await desk.cash(someone)).balance == Decimal(1000)  # nothing moved


async def _until_stopped(floor: CopyFloor, copy: CopyRecord) -> None:
    """The desk's sweep, as its loop would run it, until the copy has sold out (its sells filled) and stopped."""

    async def stopped() -> bool:
        await floor.copies.settle_stopping()
        await floor.desk.route()
        return (await floor.copy(copy)).status is CopyStatus.STOPPED

    await eventually(stopped, what="the copy stopped")


async def test_a_month_end_profit_share_moves_once_above_the_high_water_mark(floor: CopyFloor) -> None:
    desk = floor.desk
    owner, copy = await floor.follower("30000.00", proportional("20000"))
    await floor.leader_trades("buy", 100)
    await floor.mirror()
    month_end = last_month_end(desk.clock.now().date())
    assert await floor.copies.charge_profit_shares(month_end) == 0  # no profit yet: nothing due

    desk.sim.set_price("AAPL", Decimal(300))
    leader_before = (await desk.cash(floor.leader)).balance
    paid = await floor.copies.charge_profit_shares(month_end)
    shares, charged = await floor.shares(copy), await floor.copy(copy)
    gain = Decimal(20000) - (await _sleeve_cash_spent(floor, copy)) + shares * 300 - Decimal(20000)
    assert paid == (gain / 10).quantize(Decimal("0.01"))  # Ada's 10 %
    assert (await desk.cash(floor.leader)).balance == leader_before + paid
    assert charged.high_water_mark == gain - paid  # the copy's profit once the share is paid
    assert await floor.copies.charge_profit_shares(month_end) == 0  # the same month again pays nothing
    assert await floor.copies.charge_profit_shares(month_end.replace(day=1)) == 0  # no new high: nothing due
    for who in (owner, floor.leader):
        page = await desk.db.transact(lambda uow, w=who: statement(uow, w, limit=5), readonly=True)
        assert any(line.kind == "profit_share" and "Ada" in line.memo for line in page.lines)
    assert "copy.profit_share_paid" in await floor.topics(owner)
    assert "copy.profit_share_received" in await floor.topics(floor.leader)
    await desk.assert_matches_simulator()


async def _sleeve_cash_spent(floor: CopyFloor, copy: CopyRecord) -> Decimal:
    """What the copy's cash has paid for its shares so far (its balance's fall from what was put in), before
    the profit share."""
    orders = [o for o in await floor.copy_orders() if o.sleeve_id == copy.id]
    return sum((o.filled_gross + o.commission for o in orders), Decimal(0))
