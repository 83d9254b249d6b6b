"""Many writers at once: no overdraft, no lost update, no deadlock that escapes, totals exact.

PostgreSQL runs the full load (row locks in id order, retries of serialization failures and deadlocks); SQLite,
whose writers queue on one lock, runs a smaller one to show BEGIN IMMEDIATE and the busy timeout at work.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.db import Database
from core.errors import IdempotencyConflict, InsufficientFunds
from ledger import operations, service
from ledger.accounts import AccountKind, Asset
from tests.support import assert_books_whole, balance, new_investor

USD = Asset.cash()
TASKS = {"sqlite": 100, "postgresql": 240}


def engine_of(db: Database) -> str:
    return db.dialect


async def test_racing_spenders_never_overdraw(db: Database) -> None:
    """Each task tries to withdraw 7.00 from one investor holding 500.00: exactly 71 succeed."""
    alice = await new_investor(db)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("500.00"), key="dep"))

    async def spend(n: int) -> bool:
        try:
            await db.transact(lambda uow: operations.withdraw(uow, alice, Decimal("7.00"), key=f"wd-{n}"))
        except InsufficientFunds:
            return False
        return True

    outcomes = await asyncio.gather(*(spend(n) for n in range(TASKS[engine_of(db)])))
    assert sum(outcomes) == 71
    assert await balance(db, AccountKind.INVESTOR_CASH, USD, alice) == Decimal("3.00")
    assert await balance(db, AccountKind.BANK, USD) == Decimal("3.00")
    await assert_books_whole(db)


async def test_racing_holds_never_reserve_more_than_there_is(db: Database) -> None:
    alice = await new_investor(db)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("100.00"), key="dep"))
    cash = await db.transact(lambda uow: service.open_account(uow, AccountKind.INVESTOR_CASH, USD, alice))

    async def reserve(n: int) -> bool:
        try:
            await db.transact(lambda uow: service.place_hold(uow, cash.id, Decimal("3.00"), key=f"h-{n}", reason="x"))
        except InsufficientFunds:
            return False
        return True

    outcomes = await asyncio.gather(*(reserve(n) for n in range(TASKS[engine_of(db)] // 2)))
    assert sum(outcomes) == 33
    account = await db.transact(lambda uow: service.get_account(uow, cash.id))
    assert (account.held, account.available) == (Decimal("99.00"), Decimal("1.00"))
    await assert_books_whole(db)


async def test_transfers_in_opposite_directions_neither_deadlock_nor_lose_money(db: Database) -> None:
    alice, bob = await new_investor(db), await new_investor(db)
    for investor in (alice, bob):
        await db.transact(lambda uow, who=investor: operations.deposit(uow, who, Decimal("1000.00"), key=f"dep-{who}"))

    async def move(n: int) -> None:
        payer, payee = (alice, bob) if n % 2 else (bob, alice)
        amount = Decimal(n % 13 + 1)
        await db.transact(lambda uow: operations.transfer(uow, payer, payee, amount, key=f"t-{n}"))

    await asyncio.gather(*(move(n) for n in range(TASKS[engine_of(db)])))
    flows = sum((Decimal(n % 13 + 1) * (1 if n % 2 else -1) for n in range(TASKS[engine_of(db)])), Decimal(0))
    assert await balance(db, AccountKind.INVESTOR_CASH, USD, alice) == Decimal("1000.00") - flows
    assert await balance(db, AccountKind.INVESTOR_CASH, USD, bob) == Decimal("1000.00") + flows
    await assert_books_whole(db)


async def test_the_same_request_delivered_concurrently_books_once(db: Database) -> None:
    alice = await new_investor(db)
    results = await asyncio.gather(
        *(
            db.transact(lambda uow: operations.deposit(uow, alice, Decimal("10.00"), key="same-webhook"))
            for _ in range(20)
        ),
        return_exceptions=True,
    )
    assert all(not isinstance(result, BaseException) for result in results), results
    assert len({result.id for result in results}) == 1  # type: ignore[union-attr]
    assert await balance(db, AccountKind.INVESTOR_CASH, USD, alice) == Decimal("10.00")


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_real_deadlock_is_retried_to_success(db: Database) -> None:
    """Two transactions lock two rows in opposite orders; PostgreSQL aborts one, and transact runs it again."""
    alice, bob = await new_investor(db), await new_investor(db)
    ids = [
        account.id
        for account in await db.transact(
            lambda uow: service.open_accounts(
                uow, [(AccountKind.INVESTOR_CASH, USD, alice), (AccountKind.INVESTOR_CASH, USD, bob)]
            )
        )
    ]
    both_hold_one = asyncio.Barrier(2)
    attempts = []

    def crosswise(first: object, second: object) -> object:
        async def work(uow: object) -> None:
            from sqlalchemy import text

            attempts.append(first)
            session = uow.session  # type: ignore[attr-defined]
            await session.execute(text("SELECT id FROM accounts WHERE id = :id FOR UPDATE"), {"id": first})
            if len(attempts) <= 2:
                await both_hold_one.wait()
            await session.execute(text("SELECT id FROM accounts WHERE id = :id FOR UPDATE"), {"id": second})

        return work

    await asyncio.gather(db.transact(crosswise(ids[0], ids[1])), db.transact(crosswise(ids[1], ids[0])))  # type: ignore[arg-type]
    assert len(attempts) == 3  # one of the two was chosen as the deadlock victim and ran again


async def test_a_request_delivered_again_while_the_first_spends_everything_is_replayed(db: Database) -> None:
    """Eight deliveries of one withdrawal of the whole balance: one books it, seven are told it was booked.
    None is refused for want of the money the first delivery took."""
    alice = await new_investor(db)
    await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("100.00"), key="dep"))
    results = await asyncio.gather(
        *(
            db.transact(lambda uow: operations.withdraw(uow, alice, Decimal("100.00"), key="same-withdrawal"))
            for _ in range(8)
        ),
        return_exceptions=True,
    )
    assert [type(result).__name__ for result in results].count("PostedEntry") == 8, results
    assert sum(not result.replayed for result in results) == 1  # type: ignore[union-attr]
    assert await balance(db, AccountKind.INVESTOR_CASH, USD, alice) == 0


async def test_one_hold_key_raced_for_two_accounts_is_a_conflict_not_a_crash(db: Database) -> None:
    alice, bob = await new_investor(db), await new_investor(db)
    accounts = []
    for investor in (alice, bob):
        await db.transact(lambda uow, who=investor: operations.deposit(uow, who, Decimal("50.00"), key=f"d-{who}"))
        accounts.append(
            await db.transact(lambda uow, who=investor: service.open_account(uow, AccountKind.INVESTOR_CASH, USD, who))
        )
    results = await asyncio.gather(
        *(
            db.transact(lambda uow, a=account: service.place_hold(uow, a.id, Decimal("5.00"), key="k", reason="x"))
            for account in accounts * 5
        ),
        return_exceptions=True,
    )
    kinds = {type(result).__name__ for result in results}
    assert kinds <= {"HoldState", "IdempotencyConflict"}, results
    assert sum(isinstance(result, IdempotencyConflict) for result in results) == 5
    await assert_books_whole(db)
