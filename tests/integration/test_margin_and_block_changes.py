"""Margin loans from house funds, the maintenance watch, IB's what-if for the omnibus, and a routed block that
shrinks when one of its investors cancels (with the overfill that a late cancel can leave to the house)."""

from __future__ import annotations

import math
from decimal import Decimal
from uuid import UUID

import pytest

from broker import margin_service
from broker.leaving import leave_block
from broker.margin import AccountType, figures
from broker.order_states import OrderStatus
from broker.order_store import OrderRecord
from core.errors import InsufficientBuyingPower, LendingCapacityExceeded
from core.outbox import Message, messages
from ledger.accounts import AccountKind, Asset
from ledger.credit import extend_credit, house_lending
from tests.integration.trading_desk import AAPL, SIM_CASH, Desk
from tests.support import assert_books_whole, balance, eventually


async def margin_investor(desk: Desk, cash: str) -> UUID:
    owner = await desk.investor(cash)
    await desk.db.transact(lambda uow: margin_service.set_account_type(uow, owner, AccountType.MARGIN))
    return owner


def shares_worth(desk: Desk, amount: int) -> int:
    return math.floor(Decimal(amount) / desk.sim.quote("AAPL").ask)


async def test_a_margin_buy_borrows_house_funds_within_capacity_and_a_sale_repays(desk: Desk) -> None:
    alice, bob = await margin_investor(desk, "5000.00"), await margin_investor(desk, "5000.00")
    bought = await desk.order(alice, "buy", shares_worth(desk, 8000))
    await desk.route()
    await desk.settled(bought.id)

    filled = await desk.get(bought.id)
    cash = await desk.cash(alice)
    loan = filled.filled_gross + filled.commission - Decimal("5000.00")
    assert cash.balance == -loan and loan > 2000  # the loan is her debit balance
    assert cash.credit_line == loan and cash.held == 0  # the line is back to what she uses
    assert await desk.db.transact(house_lending) == loan
    now = figures(
        await desk.db.transact(
            lambda uow: margin_service.margin_account(uow, alice, {AAPL: filled.filled_gross / filled.filled_quantity})
        ),
        await desk.db.transact(lambda uow: margin_service.policy(uow, desk.settings)),
    )
    assert now.loan == loan and now.equity == Decimal("5000.00") - filled.commission

    room = Decimal(5000) - loan
    with pytest.raises(InsufficientBuyingPower) as refused:  # Bob would need more than the house has left
        await desk.order(bob, "buy", shares_worth(desk, 8000))
    assert refused.value.available == Decimal("5000.00") + room  # his cash and what the house can still lend
    assert (await desk.cash(bob)).held == 0 and (await desk.cash(bob)).credit_line == 0
    # The ledger's own guard, for two orders checked at once: extensions queue on one lock and count every line.
    bobs_cash = await desk.cash(bob)
    with pytest.raises(LendingCapacityExceeded) as beyond:
        await desk.db.transact(lambda uow: extend_credit(uow, bobs_cash, Decimal(5000) + room + 1, Decimal(5000)))
    assert beyond.value.room == room

    sold = await desk.order(alice, "sell", int(filled.filled_quantity))
    await desk.route()
    await desk.settled(sold.id)
    cash = await desk.cash(alice)
    assert cash.balance > 0 and cash.credit_line == 0  # the proceeds repaid the loan
    assert await desk.db.transact(house_lending) == 0
    await desk.assert_matches_simulator()


async def test_a_cash_account_never_borrows(desk: Desk) -> None:
    alice = await desk.investor("5000.00")
    with pytest.raises(InsufficientBuyingPower):
        await desk.order(alice, "buy", shares_worth(desk, 8000))
    assert await desk.db.transact(house_lending) == 0


async def test_a_fill_that_leaves_a_margin_investor_below_maintenance_is_told(desk: Desk) -> None:
    alice = await margin_investor(desk, "5000.00")
    bought = await desk.order(alice, "buy", shares_worth(desk, 9000))
    await desk.route()
    await desk.settled(bought.id)
    assert not await _breaches(desk)

    desk.sim.set_price("AAPL", (desk.sim.quote("AAPL").last * Decimal("0.5")).quantize(Decimal("0.01")))
    sold = await desk.order(alice, "sell", 1)  # a sale always fits; its fill marks her book at the new price
    await desk.route()
    await desk.settled(sold.id)
    breaches = await _breaches(desk)
    assert [b.payload["owner_id"] for b in breaches] == [str(alice)]
    assert Decimal(breaches[0].payload["excess_liquidity"]) < 0
    await desk.assert_matches_simulator()


async def _breaches(desk: Desk) -> list[Message]:
    return await desk.db.transact(lambda uow: messages(uow, "margin.maintenance_breach"), readonly=True)


async def test_a_large_block_the_omnibus_cannot_carry_is_refused_before_it_reaches_ib(desk: Desk) -> None:
    desk.sim.account.cash = Decimal(10_000)  # the omnibus can carry 20,000 at Reg T
    alice = await desk.investor()
    ask = desk.sim.quote("AAPL").ask
    order = await desk.order(alice, "buy", shares_worth(desk, 25_000), limit=ask)
    await desk.route()
    await desk.settled(order.id)
    refused = await desk.get(order.id)
    assert refused.status is OrderStatus.REJECTED and "what-if" in refused.reason
    assert (await desk.cash(alice)).held == 0
    assert AAPL not in desk.sim.account.holdings  # IB never got the order
    desk.sim.account.cash = SIM_CASH
    await desk.assert_matches_simulator()


async def half_filled_block_alice_cancels(desk: Desk) -> tuple[UUID, list[OrderRecord], UUID]:
    """Alice (4) and Bob (6) in one block that IB has half filled (Alice 2, Bob 3); Alice asks to cancel. Alice,
    both orders, and the block the router must act on."""
    alice, bob = await desk.investor(), await desk.investor()
    orders = [await desk.order(alice, "buy", 4), await desk.order(bob, "buy", 6)]
    desk.sim.plan_next_order(slices=[Decimal(5), Decimal(5)])
    await desk.route()
    await eventually(lambda: desk.filled_at_least(orders[1].id, Decimal(3)), what="the first slice was booked")
    _, block = await desk.trading.cancel_order(alice, orders[0].id)
    assert block is not None
    return alice, orders, block


async def test_a_cancel_after_routing_shrinks_the_ib_order(desk: Desk) -> None:
    alice, orders, block = await half_filled_block_alice_cancels(desk)
    await desk.router.cancel_requested(block)
    left = await desk.get(orders[0].id)
    assert (left.status, left.filled_quantity) == (OrderStatus.CANCELLED, Decimal(2))  # keeps what filled
    desk.sim.step()
    await desk.settled(orders[1].id)
    assert (await desk.get(orders[1].id)).filled_quantity == 6
    assert desk.sim.account.holdings[AAPL].quantity == 8  # IB's order was lowered from 10 to 8
    assert (await desk.cash(alice)).held == 0
    await desk.assert_matches_simulator()


async def test_shares_filled_before_a_reduction_reaches_ib_go_to_the_house(desk: Desk) -> None:
    _alice, orders, block = await half_filled_block_alice_cancels(desk)
    await desk.db.transact(lambda uow: leave_block(uow, block))  # IB fills before the modify lands
    desk.sim.step()
    await eventually(lambda: desk.filled_at_least(orders[1].id, Decimal(6)), what="Bob's order filled")
    await desk.settled(orders[1].id)
    assert desk.sim.account.holdings[AAPL].quantity == 10
    house = await balance(desk.db, AccountKind.HOUSE_ERROR, Asset.instrument(AAPL))
    assert abs(house) == 2  # the two shares Alice no longer wanted
    await assert_books_whole(desk.db)
    await desk.assert_matches_simulator()
