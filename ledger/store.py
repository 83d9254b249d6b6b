"""The ledger's SQL: the only ledger module that talks to the database.

Order of writes for an entry: its postings first, then the entry row. The database refuses a posting for an
entry that already exists and checks, when the entry row arrives, that its postings balance (see the triggers
in alembic/versions); the foreign key from postings to entries is deferred to the commit.

Statements are built once, here, with bound parameters, and run on the unit of work's connection: booking is
the hottest path of the platform, and this spares it the ORM's bookkeeping and the statements' construction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Executable, Row, Table, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from core.bulk import insert_rows, update_rows, upsert_rows
from core.db import UnitOfWork
from core.errors import TransientDatabaseError
from core.sql import in_list

from .accounts import AccountKind, AccountState, Asset
from .entries import PostedEntry, PostedLeg
from .holds import HoldState, HoldStatus
from .models import Account, Entry, Hold, HoldUse, Position, Posting

ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
ENTRIES: Table = Entry.__table__  # type: ignore[assignment]
POSTINGS: Table = Posting.__table__  # type: ignore[assignment]
HOLDS: Table = Hold.__table__  # type: ignore[assignment]
HOLD_USES: Table = HoldUse.__table__  # type: ignore[assignment]
POSITIONS: Table = Position.__table__  # type: ignore[assignment]

_CHUNK = 1000  # values per IN (...) list, well inside every driver's limit on parameters


_ACCOUNTS_BY_CODE = select(ACCOUNTS).where(in_list(ACCOUNTS.c.code, "codes"))
_ACCOUNTS_BY_ID = select(ACCOUNTS).where(in_list(ACCOUNTS.c.id, "ids")).order_by(ACCOUNTS.c.id)
_LOCK_ACCOUNTS = _ACCOUNTS_BY_ID.with_for_update()
_HOLDS_BY_ID = select(HOLDS).where(in_list(HOLDS.c.id, "ids")).order_by(HOLDS.c.id)
_LOCK_HOLDS = _HOLDS_BY_ID.with_for_update()
_HOLD_BY_KEY = select(HOLDS).where(HOLDS.c.idempotency_key == bindparam("key"))
_HOLDS_BY_KEYS = select(HOLDS).where(in_list(HOLDS.c.idempotency_key, "keys"))
_ENTRIES_BY_KEY = select(ENTRIES).where(in_list(ENTRIES.c.idempotency_key, "keys"))
_POSTINGS_OF = select(POSTINGS).where(in_list(POSTINGS.c.entry_id, "ids")).order_by(POSTINGS.c.id)
# Whether any of the keys was booked, read in the same round trip as the accounts' locks.
_BOOKED = select(func.count()).select_from(ENTRIES).where(in_list(ENTRIES.c.idempotency_key, "keys")).scalar_subquery()
_LOCK_ACCOUNTS_PROBING_KEYS = (
    select(ACCOUNTS, _BOOKED.label("booked"))
    .where(in_list(ACCOUNTS.c.id, "ids"))
    .order_by(ACCOUNTS.c.id)
    .with_for_update(of=ACCOUNTS)
)


async def _rows(uow: UnitOfWork, statement: Executable, name: str, values: Iterable[Any]) -> list[Row[Any]]:
    """Run a statement with an IN list: on PostgreSQL one array, elsewhere in chunks."""
    items = list(values)
    found: list[Row[Any]] = []
    chunk = max(len(items), 1) if uow.dialect == "postgresql" else _CHUNK
    for start in range(0, len(items), chunk):
        result = await uow.connection.execute(statement, {name: items[start : start + chunk]})
        found.extend(result.all())
    return found


def _account(row: Row[Any]) -> AccountState:
    asset = Asset(currency=row.currency, con_id=row.instrument_id)
    kind, owner = AccountKind(row.kind), row.owner_id
    return AccountState(
        row.id, row.code, kind, asset, owner, row.balance, row.held, row.version, row.credit_line, row.sleeve_id
    )


def _hold(row: Row[Any]) -> HoldState:
    return HoldState(
        row.id,
        row.account_id,
        row.amount,
        row.posted,
        row.released,
        HoldStatus(row.status),
        row.idempotency_key,
        row.reason,
    )


async def accounts_by_code(uow: UnitOfWork, codes: Sequence[str]) -> dict[str, AccountState]:
    return {row.code: _account(row) for row in await _rows(uow, _ACCOUNTS_BY_CODE, "codes", sorted(set(codes)))}


async def create_accounts(uow: UnitOfWork, accounts: Sequence[AccountState]) -> None:
    """Insert the accounts, in code order (so that two creators never wait on each other crosswise); any that a
    concurrent transaction created first are left as they are."""
    now = uow.clock.now()
    rows = [
        {
            "id": account.id,
            "code": account.code,
            "kind": account.kind.value,
            "owner_id": account.owner_id,
            "sleeve_id": account.sleeve_id,
            "currency": account.asset.currency,
            "instrument_id": account.asset.con_id,
            "balance": account.balance,
            "held": account.held,
            "version": account.version,
            "created_at": now,
        }
        for account in sorted(accounts, key=lambda account: account.code)
    ]
    await insert_rows(uow, ACCOUNTS, rows, ignore_conflicts=True)


async def accounts_by_id(uow: UnitOfWork, ids: Iterable[UUID], *, lock: bool) -> dict[UUID, AccountState]:
    """The accounts; with `lock`, locked until the end of the transaction, always in id order so that writers
    never deadlock. Writers lock accounts before holds."""
    rows = await _rows(uow, _LOCK_ACCOUNTS if lock else _ACCOUNTS_BY_ID, "ids", sorted(set(ids)))
    return {row.id: _account(row) for row in rows}


async def lock_accounts_probing_keys(
    uow: UnitOfWork, ids: Iterable[UUID], keys: Sequence[str]
) -> tuple[dict[UUID, AccountState], bool]:
    """The accounts, locked (see accounts_by_id), and whether any of the idempotency keys is already booked.

    On PostgreSQL the answer comes from the statement's snapshot, taken before a wait for a lock: a concurrent
    delivery of the same request that commits meanwhile is caught by the unique key when the entry is written
    (see write_entries), and the retry then finds it.
    """
    account_ids = sorted(set(ids))
    if uow.dialect != "postgresql" and (len(account_ids) > _CHUNK or len(keys) > _CHUNK):
        return await accounts_by_id(uow, account_ids, lock=True), bool(await entries_by_key(uow, keys))
    rows = (await uow.connection.execute(_LOCK_ACCOUNTS_PROBING_KEYS, {"ids": account_ids, "keys": list(keys)})).all()
    return {row.id: _account(row) for row in rows}, any(row.booked for row in rows)


async def holds_by_id(uow: UnitOfWork, ids: Iterable[UUID], *, lock: bool) -> dict[UUID, HoldState]:
    rows = await _rows(uow, _LOCK_HOLDS if lock else _HOLDS_BY_ID, "ids", sorted(set(ids)))
    return {row.id: _hold(row) for row in rows}


async def hold_by_key(uow: UnitOfWork, key: str) -> HoldState | None:
    row = (await uow.connection.execute(_HOLD_BY_KEY, {"key": key})).one_or_none()
    return None if row is None else _hold(row)


async def holds_by_key(uow: UnitOfWork, keys: Sequence[str]) -> dict[str, HoldState]:
    return {row.idempotency_key: _hold(row) for row in await _rows(uow, _HOLDS_BY_KEYS, "keys", keys)}


async def entries_by_key(uow: UnitOfWork, keys: Sequence[str]) -> dict[str, PostedEntry]:
    """Entries already booked under these idempotency keys, as replays."""
    heads = {row.id: row for row in await _rows(uow, _ENTRIES_BY_KEY, "keys", keys)}
    legs: dict[UUID, list[PostedLeg]] = defaultdict(list)
    for row in await _rows(uow, _POSTINGS_OF, "ids", heads):
        legs[row.entry_id].append(PostedLeg(row.account_id, row.amount, row.balance_after))
    return {
        head.idempotency_key: PostedEntry(
            head.id, head.idempotency_key, head.kind, head.memo, head.created_at, tuple(legs[entry_id]), replayed=True
        )
        for entry_id, head in heads.items()
    }


async def write_entries(
    uow: UnitOfWork, entries: Sequence[PostedEntry], hold_uses: Sequence[tuple[UUID, UUID, Decimal]]
) -> None:
    """Postings, then entries, then the record of which entry consumed which hold."""
    if not entries:
        return
    postings = [
        {"entry_id": entry.id, "account_id": leg.account_id, "amount": leg.amount, "balance_after": leg.balance_after}
        for entry in entries
        for leg in entry.legs
    ]
    heads = [
        {
            "id": entry.id,
            "idempotency_key": entry.key,
            "kind": entry.kind,
            "memo": entry.memo,
            "created_at": entry.created_at,
        }
        for entry in entries
    ]
    with _key_race("uq_entries_idempotency_key"):
        await insert_rows(uow, POSTINGS, postings)
        await insert_rows(uow, ENTRIES, heads)
    uses = [{"hold_id": hold_id, "entry_id": entry_id, "amount": amount} for hold_id, entry_id, amount in hold_uses]
    await insert_rows(uow, HOLD_USES, uses)


@contextmanager
def _key_race(constraint: str) -> Iterator[None]:
    """A concurrent transaction took the same idempotency key first: run again, and find its result."""
    try:
        yield
    except IntegrityError as exc:
        if constraint in str(exc.orig):
            raise TransientDatabaseError(f"{constraint}: taken concurrently") from exc
        raise


async def save_held(uow: UnitOfWork, accounts: Iterable[AccountState]) -> None:
    """Write what the accounts hold aside, and their version (balances are the database's to move)."""
    rows = [
        {"id": account.id, "held": account.held, "version": account.version}
        for account in sorted(accounts, key=lambda account: account.id)
    ]
    await update_rows(uow, ACCOUNTS, rows)


async def insert_hold(uow: UnitOfWork, hold: HoldState, now: datetime) -> None:
    with _key_race("uq_holds_idempotency_key"):
        await uow.connection.execute(insert(HOLDS), _hold_row(hold, now))


async def insert_holds(uow: UnitOfWork, holds: Sequence[HoldState], now: datetime) -> None:
    with _key_race("uq_holds_idempotency_key"):
        await insert_rows(uow, HOLDS, [_hold_row(hold, now) for hold in holds])


def _hold_row(hold: HoldState, now: datetime) -> dict[str, Any]:
    return {
        "id": hold.id,
        "idempotency_key": hold.key,
        "account_id": hold.account_id,
        "amount": hold.amount,
        "posted": hold.posted,
        "released": hold.released,
        "status": hold.status.value,
        "reason": hold.reason[:200],
        "created_at": now,
        "updated_at": now,
    }


async def save_holds(uow: UnitOfWork, holds: Iterable[HoldState], now: datetime) -> None:
    rows = [
        {"id": h.id, "posted": h.posted, "released": h.released, "status": h.status.value, "updated_at": now}
        for h in holds
    ]
    await update_rows(uow, HOLDS, rows)


_POSITIONS_BOOKS_OF = select(POSITIONS.c.account_id, POSITIONS.c.cost_basis, POSITIONS.c.realized_pnl).where(
    in_list(POSITIONS.c.account_id, "ids")
)


async def positions_books(uow: UnitOfWork, account_ids: Iterable[UUID]) -> dict[UUID, tuple[Decimal, Decimal]]:
    """(cost basis, realized P&L) of each position that was ever traded, by its account."""
    rows = await _rows(uow, _POSITIONS_BOOKS_OF, "ids", sorted(set(account_ids)))
    return {row.account_id: (row.cost_basis, row.realized_pnl) for row in rows}


async def save_positions_books(uow: UnitOfWork, books: dict[UUID, tuple[Decimal, Decimal]]) -> None:
    if not books:
        return
    now = uow.clock.now()
    rows = [
        {"account_id": account_id, "cost_basis": basis, "realized_pnl": realized, "updated_at": now}
        for account_id, (basis, realized) in sorted(books.items())
    ]
    await upsert_rows(uow, POSITIONS, rows, key="account_id")


async def sleeve_accounts(uow: UnitOfWork, sleeve_ids: Sequence[UUID]) -> list[Row[Any]]:
    """The sleeves' accounts: sleeve_id, instrument_id (None for cash), balance, held."""
    query = select(ACCOUNTS.c.sleeve_id, ACCOUNTS.c.instrument_id, ACCOUNTS.c.balance, ACCOUNTS.c.held).where(
        in_list(ACCOUNTS.c.sleeve_id, "ids")
    )
    return await _rows(uow, query, "ids", sorted(set(sleeve_ids)))
