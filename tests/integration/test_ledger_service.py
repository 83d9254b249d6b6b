"""The ledger's services against SQLite and PostgreSQL: money moves, nothing is created or destroyed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.db import Database
from core.errors import IdempotencyConflict, InsufficientFunds, InvalidAmount
from ledger import operations, service
from ledger.accounts import AccountKind, Asset
from tests.support import assert_books_whole, balance, new_investor

USD = Asset.cash()


async def test_a_deposit_credits_the_investor_and_debits_the_bank(db: Database) -> None:
    alice = await new_investor(db)
    entry = await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("1000.00"), key="dep-1"))
    assert not entry.replayed
    assert await balance(db, AccountKind.INVESTOR_CASH, USD, alice) == Decimal("1000.00")
    assert await balance(db, AccountKind.BANK, USD) == Decimal("1000.00")
    await assert_books_whole(db)


async def test_a_replayed_deposit_books_once(db: Database) -> None:
    alice = await new_investor(db)
    first = await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("250.00"), key="dep-1"))
    second = await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("250.00"), key="dep-1"))
    assert second.replayed and second.id == first.id
    assert await balance(db, AccountKind.INVESTOR_CASH, USD, alice) == Decimal("250.00")


async def test_a_key_reused_for_another_amount_is_refused(db: Database) -> None:
    alice = await new_investor(db)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("250.00"), key="dep-1"))
    with pytest.raises(IdempotencyConflict):
        await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("260.00"), key="dep-1"))


async def test_a_withdrawal_beyond_the_cash_is_refused_and_changes_nothing(db: Database) -> None:
    alice = await new_investor(db)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("100.00"), key="dep-1"))
    with pytest.raises(InsufficientFunds) as refused:
        await db.transact(lambda uow: operations.withdraw(uow, alice, Decimal("100.01"), key="wd-1"))
    assert refused.value.available == Decimal("100.00")
    assert await balance(db, AccountKind.INVESTOR_CASH, USD, alice) == Decimal("100.00")
    await assert_books_whole(db)


async def test_fractions_of_a_cent_and_floats_are_refused(db: Database) -> None:
    alice = await new_investor(db)
    with pytest.raises(InvalidAmount):
        await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("1.001"), key="dep-1"))
    with pytest.raises(InvalidAmount):
        await db.transact(lambda uow: operations.deposit(uow, alice, 1.5, key="dep-2"))  # type: ignore[arg-type]


async def test_holds_set_cash_aside_until_posted_or_released(db: Database) -> None:
    alice, bob = await new_investor(db), await new_investor(db)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("500.00"), key="dep-1"))
    cash = await db.transact(lambda uow: service.open_account(uow, AccountKind.INVESTOR_CASH, USD, alice))
    hold = await db.transact(lambda uow: service.place_hold(uow, cash.id, Decimal("300.00"), key="h1", reason="buy"))
    with pytest.raises(InsufficientFunds):
        await db.transact(lambda uow: operations.transfer(uow, alice, bob, Decimal("200.01"), key="t1"))
    await db.transact(lambda uow: operations.transfer(uow, alice, bob, Decimal("200.00"), key="t2"))
    bob_cash = await db.transact(lambda uow: service.open_account(uow, AccountKind.INVESTOR_CASH, USD, bob))

    # Post 120 against the hold: the hold has 180 left, the cash 180 and nothing available.
    from ledger.entries import EntryRequest, Leg

    spend = EntryRequest(
        "spend-1",
        "test",
        (Leg.debit(cash.id, Decimal("120.00")), Leg.credit(bob_cash.id, Decimal("120.00"))),
        holds=(hold.id,),
    )
    await db.transact(lambda uow: service.post_entry(uow, spend))
    account = await db.transact(lambda uow: service.get_account(uow, cash.id))
    assert (account.balance, account.held, account.available) == (Decimal("180.00"), Decimal("180.00"), 0)
    released = await db.transact(lambda uow: service.release_hold(uow, hold.id))
    assert (released.posted, released.released, released.status.value) == (
        Decimal("120.00"),
        Decimal("180.00"),
        "released",
    )
    account = await db.transact(lambda uow: service.get_account(uow, cash.id))
    assert account.available == Decimal("180.00")
    await assert_books_whole(db)
