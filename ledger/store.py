"""The ledger's SQL, and the only ledger module that touches the session.

Order of writes for an entry: its postings first, then the entry row. The database refuses a posting for an
entry that already exists and checks, when the entry row arrives, that its postings balance (see the triggers
in alembic/versions); the foreign key from postings to entries is deferred to the commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Table, bindparam, insert, select, update

from core.db import UnitOfWork, dialect_insert, insert_ignoring_conflicts

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

_CHUNK = 1000  # ids per IN (...) list, well inside every driver's limit on parameters


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _account(row: Row[Any]) -> AccountState:
    asset = Asset(currency=row.currency, con_id=row.instrument_id)
    return AccountState(
        row.id, row.code, AccountKind(row.kind), asset, row.owner_id, row.balance, row.held, row.version
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
    found = {}
    for chunk in _chunks(sorted(set(codes))):
        for row in await uow.session.execute(select(ACCOUNTS).where(ACCOUNTS.c.code.in_(chunk))):
            found[row.code] = _account(row)
    return found


async def create_accounts(uow: UnitOfWork, accounts: Sequence[AccountState]) -> None:
    """Insert the accounts; any that a concurrent transaction created first are left as they are."""
    now = uow.clock.now()
    rows = [
        {
            "id": account.id,
            "code": account.code,
            "kind": account.kind.value,
            "owner_id": account.owner_id,
            "currency": account.asset.currency,
            "instrument_id": account.asset.con_id,
            "balance": account.balance,
            "held": account.held,
            "version": account.version,
            "created_at": now,
            "updated_at": now,
        }
        for account in accounts
    ]
    await uow.session.execute(insert_ignoring_conflicts(uow, ACCOUNTS), rows)


async def accounts_by_id(uow: UnitOfWork, ids: Iterable[UUID], *, lock: bool) -> dict[UUID, AccountState]:
    """The accounts; with `lock`, locked until the end of the transaction, always in id order so that writers
    never deadlock. Writers lock accounts before holds."""
    found = {}
    for chunk in _chunks(sorted(set(ids))):
        query = select(ACCOUNTS).where(ACCOUNTS.c.id.in_(chunk)).order_by(ACCOUNTS.c.id)
        for row in await uow.session.execute(query.with_for_update() if lock else query):
            found[row.id] = _account(row)
    return found


async def holds_by_id(uow: UnitOfWork, ids: Iterable[UUID], *, lock: bool) -> dict[UUID, HoldState]:
    found = {}
    for chunk in _chunks(sorted(set(ids))):
        query = select(HOLDS).where(HOLDS.c.id.in_(chunk)).order_by(HOLDS.c.id)
        for row in await uow.session.execute(query.with_for_update() if lock else query):
            found[row.id] = _hold(row)
    return found


async def hold_by_key(uow: UnitOfWork, key: str) -> HoldState | None:
    row = (await uow.session.execute(select(HOLDS).where(HOLDS.c.idempotency_key == key))).one_or_none()
    return None if row is None else _hold(row)


async def entries_by_key(uow: UnitOfWork, keys: Sequence[str]) -> dict[str, PostedEntry]:
    """Entries already booked under these idempotency keys, as replays."""
    heads = {}
    for chunk in _chunks(list(keys)):
        for row in await uow.session.execute(select(ENTRIES).where(ENTRIES.c.idempotency_key.in_(chunk))):
            heads[row.id] = row
    legs: dict[UUID, list[PostedLeg]] = defaultdict(list)
    for chunk in _chunks(list(heads)):
        query = select(POSTINGS).where(POSTINGS.c.entry_id.in_(chunk)).order_by(POSTINGS.c.id)
        for row in await uow.session.execute(query):
            legs[row.entry_id].append(PostedLeg(row.account_id, row.amount, row.balance_after))
    return {
        head.idempotency_key: PostedEntry(
            head.id,
            head.idempotency_key,
            head.kind,
            head.memo,
            head.created_at,
            tuple(legs[entry_id]),
            replayed=True,
        )
        for entry_id, head in heads.items()
    }


async def write_entries(
    uow: UnitOfWork, entries: Sequence[PostedEntry], hold_uses: Sequence[tuple[UUID, UUID, Any]]
) -> None:
    """Postings, then entries, then the record of which entry consumed which hold."""
    if not entries:
        return
    postings = [
        {
            "entry_id": entry.id,
            "account_id": leg.account_id,
            "amount": leg.amount,
            "balance_after": leg.balance_after,
        }
        for entry in entries
        for leg in entry.legs
    ]
    await uow.session.execute(insert(POSTINGS), postings)
    await uow.session.execute(
        insert(ENTRIES),
        [
            {
                "id": entry.id,
                "idempotency_key": entry.key,
                "kind": entry.kind,
                "memo": entry.memo,
                "created_at": entry.created_at,
            }
            for entry in entries
        ],
    )
    if hold_uses:
        await uow.session.execute(
            insert(HOLD_USES),
            [{"hold_id": hold_id, "entry_id": entry_id, "amount": amount} for hold_id, entry_id, amount in hold_uses],
        )


async def save_accounts(uow: UnitOfWork, accounts: Iterable[AccountState], now: datetime) -> None:
    rows = [
        {"_id": account.id, "_balance": account.balance, "_held": account.held, "_version": account.version}
        for account in sorted(accounts, key=lambda account: account.id)
    ]
    if rows:
        statement = (
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == bindparam("_id"))
            .values(
                balance=bindparam("_balance"),
                held=bindparam("_held"),
                version=bindparam("_version"),
                updated_at=now,
            )
        )
        await uow.session.execute(statement, rows)


async def insert_hold(uow: UnitOfWork, hold: HoldState, now: datetime) -> None:
    await uow.session.execute(
        insert(HOLDS).values(
            id=hold.id,
            idempotency_key=hold.key,
            account_id=hold.account_id,
            amount=hold.amount,
            posted=hold.posted,
            released=hold.released,
            status=hold.status.value,
            reason=hold.reason,
            created_at=now,
            updated_at=now,
        )
    )


async def save_holds(uow: UnitOfWork, holds: Iterable[HoldState], now: datetime) -> None:
    rows = [
        {"_id": hold.id, "_posted": hold.posted, "_released": hold.released, "_status": hold.status.value}
        for hold in holds
    ]
    if rows:
        statement = (
            update(HOLDS)
            .where(HOLDS.c.id == bindparam("_id"))
            .values(
                posted=bindparam("_posted"),
                released=bindparam("_released"),
                status=bindparam("_status"),
                updated_at=now,
            )
        )
        await uow.session.execute(statement, rows)


async def position_books(uow: UnitOfWork, account_id: UUID) -> tuple[Any, Any] | None:
    """(cost basis, realized P&L) of the position held in this account, if it was ever traded."""
    row = (await uow.session.execute(select(POSITIONS).where(POSITIONS.c.account_id == account_id))).one_or_none()
    return None if row is None else (row.cost_basis, row.realized_pnl)


async def save_position_books(uow: UnitOfWork, account_id: UUID, cost_basis: Any, realized_pnl: Any) -> None:
    values = {"cost_basis": cost_basis, "realized_pnl": realized_pnl, "updated_at": uow.clock.now()}
    statement = dialect_insert(uow, POSITIONS).values(account_id=account_id, **values)
    await uow.session.execute(statement.on_conflict_do_update(index_elements=[POSITIONS.c.account_id], set_=values))
