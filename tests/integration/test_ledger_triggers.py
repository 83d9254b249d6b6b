"""The database itself keeps the ledger append-only and balanced: raw SQL that would break it is refused."""

from __future__ import annotations

import sqlite3
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from core.db import Database, UnitOfWork
from ledger import operations, service
from ledger.accounts import AccountKind, Asset
from ledger.integrity import check_books
from ledger.store import ENTRIES, POSTINGS
from tests.support import new_investor

USD = Asset.cash()


async def booked_deposit(db: Database) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """(entry id, bank account id, investor cash account id) of a 100.00 deposit."""
    alice = await new_investor(db)
    entry = await db.transact(lambda uow: operations.deposit(uow, alice, Decimal("100.00"), key="dep"))
    bank, cash = (leg.account_id for leg in entry.legs)
    return entry.id, bank, cash


async def refused(db: Database, sql: str, **params: Any) -> str:
    async def work(uow: UnitOfWork) -> None:
        await uow.session.execute(text(sql), params)

    with pytest.raises(IntegrityError) as error:
        await db.transact(work)
    return str(error.value.orig)


def raw_id(db: Database, value: uuid.UUID) -> str:
    return value.hex if db.dialect == "sqlite" else str(value)


async def test_postings_cannot_be_updated(db: Database) -> None:
    await booked_deposit(db)
    assert "append-only" in await refused(db, "UPDATE postings SET amount = amount * 2")


async def test_postings_and_entries_cannot_be_deleted(db: Database) -> None:
    await booked_deposit(db)
    assert "append-only" in await refused(db, "DELETE FROM postings")
    assert "append-only" in await refused(db, "DELETE FROM entries")
    assert "append-only" in await refused(db, "UPDATE entries SET memo = 'rewritten'")


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_postings_cannot_be_truncated(db: Database) -> None:
    await booked_deposit(db)
    assert "append-only" in await refused(db, "TRUNCATE postings CASCADE")


Leg = tuple[uuid.UUID, int, int]  # account, amount, balance_after


async def write_raw(db: Database, entry_id: uuid.UUID, legs: list[Leg], key: str | None = None) -> None:
    """Postings in plain SQL, then (when a key is given) their entry row: the ledger's protocol, without its
    Python rules in the way."""

    async def work(uow: UnitOfWork) -> None:
        rows = [
            {"entry_id": entry_id, "account_id": account, "amount": Decimal(amount), "balance_after": Decimal(after)}
            for account, amount, after in legs
        ]
        if rows:
            await uow.session.execute(insert(POSTINGS), rows)
        if key is not None:
            await uow.session.execute(
                insert(ENTRIES).values(
                    id=entry_id, idempotency_key=key, kind="raw", memo="", created_at=uow.clock.now()
                )
            )

    await db.transact(work)


async def test_an_unbalanced_entry_is_refused(db: Database) -> None:
    _, bank, cash = await booked_deposit(db)
    with pytest.raises(IntegrityError, match="does not balance"):
        await write_raw(db, uuid.uuid4(), [(bank, 5, 105), (cash, -4, 104)], key="forged")


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_the_books_check_finds_unbalanced_entries_that_cancel_out(db: Database) -> None:
    """With the trigger gone (a restored copy, a hand edit), two wrong entries can cancel out in the asset's sum:
    the check looks at each entry too."""
    _, bank, cash = await booked_deposit(db)
    await db.transact(lambda uow: uow.connection.execute(text("DROP TRIGGER entries_balance")))
    await write_raw(db, uuid.uuid4(), [(bank, 5, 105), (cash, -4, 104)], key="one over")
    await write_raw(db, uuid.uuid4(), [(bank, -2, 103), (cash, 1, 103)], key="one under")
    problems = await db.transact(check_books, readonly=True)
    assert len(problems) == 2 and all("sum to" in p and "entry" in p for p in problems), problems


async def test_an_entry_with_one_posting_or_none_is_refused(db: Database) -> None:
    _, bank, _ = await booked_deposit(db)
    for legs in ([], [(bank, 0, 100)]):
        with pytest.raises(IntegrityError, match="fewer than two"):
            await write_raw(db, uuid.uuid4(), legs, key=f"lonely-{len(legs)}")


async def test_postings_cannot_be_added_to_a_recorded_entry(db: Database) -> None:
    entry_id, bank, cash = await booked_deposit(db)
    with pytest.raises(IntegrityError, match="already recorded"):
        await write_raw(db, entry_id, [(bank, 50, 150), (cash, -50, 150)])


async def test_postings_without_their_entry_cannot_commit(db: Database) -> None:
    _, bank, cash = await booked_deposit(db)
    with pytest.raises(IntegrityError):
        await write_raw(db, uuid.uuid4(), [(bank, 1, 101), (cash, -1, 101)])


async def test_an_account_cannot_change_what_it_is(db: Database) -> None:
    _, _, cash = await booked_deposit(db)
    message = await refused(db, "UPDATE accounts SET kind = 'house_equity' WHERE id = :id", id=raw_id(db, cash))
    assert "cannot change" in message
    bank = await db.transact(lambda uow: service.open_account(uow, AccountKind.BANK, USD))
    assert bank.balance == Decimal("100.00")


async def test_the_database_moves_cached_balances_and_checks_running_balances(db: Database) -> None:
    """A correct entry written in raw SQL moves the cached balances; one whose balance_after lies is refused."""
    _, bank, cash = await booked_deposit(db)
    with pytest.raises(IntegrityError, match="balance_after"):
        await write_raw(db, uuid.uuid4(), [(bank, 30, 999), (cash, -30, 130)], key="lying")
    await write_raw(db, uuid.uuid4(), [(bank, 30, 130), (cash, -30, 130)], key="honest")
    bank_account = await db.transact(lambda uow: service.get_account(uow, bank))
    assert bank_account.balance == Decimal(130)
    cash_account = await db.transact(lambda uow: service.get_account(uow, cash))
    assert (cash_account.balance, cash_account.version) == (Decimal(130), 2)


async def test_a_balance_cannot_be_set_outside_a_posting(db: Database) -> None:
    _, _, cash = await booked_deposit(db)
    message = await refused(db, "UPDATE accounts SET balance = balance + 1000000 WHERE id = :id", id=raw_id(db, cash))
    assert "only through postings" in message
    assert (await db.transact(lambda uow: service.get_account(uow, cash))).balance == Decimal("100.00")


async def test_an_account_opens_empty(db: Database) -> None:
    alice = await new_investor(db)
    account = await db.transact(lambda uow: service.open_account(uow, AccountKind.INVESTOR_CASH, USD, alice))
    message = await refused(
        db,
        "INSERT INTO accounts (id, code, kind, owner_id, currency, balance, held, version, created_at) "
        "SELECT :new_id, 'forged', kind, owner_id, currency, 5, 0, 0, created_at FROM accounts WHERE id = :id",
        new_id=raw_id(db, uuid.uuid4()),
        id=raw_id(db, account.id),
    )
    assert "opens empty" in message


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_sqlite_rows_cannot_be_replaced(db: Database) -> None:
    """INSERT OR REPLACE deletes the old row without firing DELETE triggers; the ledger refuses it outright."""
    entry_id, bank, _ = await booked_deposit(db)
    assert "cannot be replaced" in await refused(
        db,
        "INSERT OR REPLACE INTO entries (id, idempotency_key, kind, memo, created_at) "
        "SELECT id, 'renamed', kind, memo, created_at FROM entries WHERE id = :id",
        id=raw_id(db, entry_id),
    )
    assert "ledger:" in await refused(  # refused as a replacement, or as a posting into a recorded entry
        db,
        "INSERT OR REPLACE INTO postings (id, entry_id, account_id, amount, balance_after) "
        "SELECT id, entry_id, account_id, amount * 2, balance_after FROM postings WHERE account_id = :id",
        id=raw_id(db, bank),
    )


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_sqlite_postings_need_foreign_keys_on(db: Database) -> None:
    """Another client of the file, with foreign keys off, cannot commit postings without their entry."""
    _, bank, _ = await booked_deposit(db)
    path = make_url(str(db.engine.url)).database
    connection = sqlite3.connect(str(path), isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys = OFF")
        with pytest.raises(sqlite3.IntegrityError, match="foreign keys on"):
            connection.execute(
                "INSERT INTO postings (entry_id, account_id, amount, balance_after) VALUES (?, ?, ?, ?)",
                (uuid.uuid4().hex, bank.hex, 10**16, 10**16 + 100 * 10**10),
            )
    finally:
        connection.close()
