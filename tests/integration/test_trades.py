"""Fills booked into an investor's books: cash, position, average cost, realized P&L, commissions, and the
fractions of a cent that go to the house. Figures worked out by hand in the docstrings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.db import Database
from core.errors import InsufficientFunds, NotFound
from ledger import operations, service
from ledger.accounts import AccountKind, Asset
from ledger.instruments import InstrumentRecord, find_instrument, get_instrument, save_instrument
from ledger.statement import statement
from ledger.trades import Trade, TradeSide, book_trade
from tests.support import AAPL, add_instruments, assert_books_whole, balance, new_investor

USD = Asset.cash()
SHARES = Asset.instrument(AAPL.con_id)


async def test_a_round_trip_books_cost_basis_realized_pnl_and_house_fractions(db: Database) -> None:
    """Deposit 10,000.00; buy 10 @ 150.1234 (commission 1.0035) against a 1,600.00 hold; sell 4 @ 160 (1.00);
    sell 6 @ 155.555 (0.333).

    Buy: gross 1,501.234 -> the investor pays 1,501.23 + 1.00 = 1,502.23; IB takes 1,502.2375; the house
    absorbs 0.0075. Sell 4: proceeds 639.00, basis released 1,502.23 * 4/10 = 600.89, realized 38.11.
    Sell 6: gross 933.33, commission 0.33 -> proceeds 933.00 (IB pays 932.997, the house keeps 0.003);
    the rest of the basis, 901.34, is released: realized 31.66, 69.77 in all.
    """
    alice = await new_investor(db)
    await add_instruments(db, AAPL)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("10000.00"), key="dep"))
    cash = await db.transact(lambda uow: service.open_account(uow, AccountKind.INVESTOR_CASH, USD, alice))
    hold = await db.transact(
        lambda uow: service.place_hold(uow, cash.id, Decimal("1600.00"), key="order-1", reason="buy 10 AAPL")
    )

    def fill(key: str, side: TradeSide, quantity: int, price: str, commission: str, hold_id: object = None) -> Trade:
        return Trade(key, alice, AAPL.con_id, side, Decimal(quantity), Decimal(price), Decimal(commission), hold_id)  # type: ignore[arg-type]

    bought = await db.transact(
        lambda uow: book_trade(uow, fill("x1", TradeSide.BUY, 10, "150.1234", "1.0035", hold.id))
    )
    assert bought.position.cost_basis == Decimal("1502.23")
    assert bought.position.average_cost == Decimal("150.223")
    held = await db.transact(lambda uow: service.get_hold(uow, hold.id))
    assert (held.posted, held.remaining) == (Decimal("1502.23"), Decimal("97.77"))
    await db.transact(lambda uow: service.release_hold(uow, hold.id))

    first = await db.transact(lambda uow: book_trade(uow, fill("x2", TradeSide.SELL, 4, "160", "1.00")))
    assert (first.realized_pnl, first.position.cost_basis) == (Decimal("38.11"), Decimal("901.34"))
    last = await db.transact(lambda uow: book_trade(uow, fill("x3", TradeSide.SELL, 6, "155.555", "0.333")))
    assert (last.realized_pnl, last.position.realized_pnl) == (Decimal("31.66"), Decimal("69.77"))
    assert (last.position.quantity, last.position.cost_basis) == (0, 0)

    assert await balance(db, AccountKind.INVESTOR_CASH, USD, alice) == Decimal("10069.77")
    assert await balance(db, AccountKind.BROKER_CASH, USD) == Decimal("69.7595")
    assert await balance(db, AccountKind.HOUSE_ERROR, USD) == Decimal("-0.0105")
    assert await balance(db, AccountKind.INVESTOR_POSITION, SHARES, alice) == 0
    assert await balance(db, AccountKind.BROKER_POSITION, SHARES) == 0
    await assert_books_whole(db)


async def test_an_execution_delivered_twice_is_booked_once(db: Database) -> None:
    alice = await new_investor(db)
    await add_instruments(db, AAPL)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("5000.00"), key="dep"))
    trade = Trade(
        "0000e0d5.6543a1b2.01.01",
        alice,
        AAPL.con_id,
        TradeSide.BUY,
        Decimal(3),
        Decimal("190.00"),
        Decimal("1.00"),
    )
    first = await db.transact(lambda uow: book_trade(uow, trade))
    again = await db.transact(lambda uow: book_trade(uow, trade))
    assert again.entry.replayed and again.entry.id == first.entry.id
    assert again.position == first.position
    assert await balance(db, AccountKind.INVESTOR_POSITION, SHARES, alice) == 3
    assert await balance(db, AccountKind.INVESTOR_CASH, USD, alice) == Decimal("4429.00")


async def test_selling_more_than_is_held_is_refused(db: Database) -> None:
    alice = await new_investor(db)
    await add_instruments(db, AAPL)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("5000.00"), key="dep"))
    await db.transact(
        lambda uow: book_trade(uow, Trade("b", alice, AAPL.con_id, TradeSide.BUY, Decimal(2), Decimal(100), Decimal(1)))
    )
    with pytest.raises(InsufficientFunds) as refused:
        await db.transact(
            lambda uow: book_trade(
                uow, Trade("s", alice, AAPL.con_id, TradeSide.SELL, Decimal(3), Decimal(100), Decimal(1))
            )
        )
    assert (refused.value.asset, refused.value.available) == (f"#{AAPL.con_id}", 2)
    await assert_books_whole(db)


async def test_instruments_are_saved_refreshed_and_found(db: Database) -> None:
    await add_instruments(db, AAPL)
    await add_instruments(
        db,
        InstrumentRecord(AAPL.con_id, "AAPL", primary_exchange="NASDAQ", description="APPLE INC (refreshed)"),
    )
    assert (await db.transact(lambda uow: get_instrument(uow, AAPL.con_id))).description == "APPLE INC (refreshed)"
    assert (await db.transact(lambda uow: find_instrument(uow, "aapl"))).con_id == AAPL.con_id  # type: ignore[union-attr]
    assert await db.transact(lambda uow: find_instrument(uow, "NOPE")) is None
    with pytest.raises(NotFound):
        await db.transact(lambda uow: get_instrument(uow, 1))
    await db.transact(lambda uow: save_instrument(uow, InstrumentRecord(4, "X")))


async def test_a_statement_pages_newest_first_with_running_balances(db: Database) -> None:
    alice, bob = await new_investor(db), await new_investor(db)
    await add_instruments(db, AAPL)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("1000.00"), key="d1"))
    await db.transact(lambda uow: operations.deposit(uow, bob, Decimal("50.00"), key="d-bob"))
    await db.transact(
        lambda uow: book_trade(
            uow,
            Trade("t1", alice, AAPL.con_id, TradeSide.BUY, Decimal(2), Decimal("100.00"), Decimal("1.00")),
        )
    )
    await db.transact(lambda uow: operations.charge_fee(uow, alice, Decimal("2.50"), key="f1"))
    await db.transact(lambda uow: operations.withdraw(uow, alice, Decimal("100.00"), key="w1"))

    page = await db.transact(lambda uow: statement(uow, alice, limit=3))
    assert [line.kind for line in page.lines] == ["withdrawal", "fee", "trade"]
    assert [(c.amount, c.balance_after) for c in page.lines[0].changes] == [(Decimal("-100.00"), Decimal("696.50"))]
    trade_changes = {change.kind.value: (change.amount, change.balance_after) for change in page.lines[2].changes}
    assert trade_changes == {
        "investor_cash": (Decimal("-201.00"), Decimal("799.00")),
        "investor_position": (Decimal(2), Decimal(2)),
    }
    rest = await db.transact(lambda uow: statement(uow, alice, limit=3, before=page.next_cursor))
    assert [line.kind for line in rest.lines] == ["deposit"] and rest.next_cursor is None


async def test_the_investor_pays_the_exact_gross_rounded_once(db: Database) -> None:
    """0.00005 shares at 299.9999999999: exactly 0.014999999999995, one cent for the investor (rounding to ten
    places first would make it 0.0150000000 and then two cents); IB's side keeps 0.0150000000."""
    alice = await new_investor(db)
    await add_instruments(db, AAPL)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("10.00"), key="dep"))
    trade = Trade("frac", alice, AAPL.con_id, TradeSide.BUY, Decimal("0.00005"), Decimal("299.9999999999"), Decimal(0))
    booked = await db.transact(lambda uow: book_trade(uow, trade))
    assert booked.position.cost_basis == Decimal("0.01")
    assert await balance(db, AccountKind.BROKER_CASH, USD) == Decimal("-0.0150000000")
    await assert_books_whole(db)
