"""An investor's statement: their entries, newest first, a page at a time.

Pages are cut by keyset on the postings' ids (an entry's postings are written together, in order), so a page
stays the same however many entries arrive meanwhile, and reading page 1,000 costs what reading page 1 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, select

from core.db import UnitOfWork

from .accounts import AccountKind, Asset, balance_change
from .store import ACCOUNTS, ENTRIES, POSTINGS


@dataclass(frozen=True)
class Change:
    asset: Asset
    kind: AccountKind
    amount: Decimal  # the change of the investor's balance (positive: more cash or shares)
    balance_after: Decimal
    in_copy: bool = False  # an account of one of the investor's copies (a sleeve), not their own book


@dataclass(frozen=True)
class StatementLine:
    entry_id: UUID
    at: datetime
    kind: str
    memo: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class StatementPage:
    lines: tuple[StatementLine, ...]
    next_cursor: str | None  # pass as `before` for the next (older) page; None on the last page


async def statement(uow: UnitOfWork, owner_id: UUID, *, limit: int = 20, before: str | None = None) -> StatementPage:
    if not 1 <= limit <= 500:
        raise ValueError("a statement page has 1 to 500 lines")
    own = select(ACCOUNTS.c.id).where(ACCOUNTS.c.owner_id == owner_id)
    first_posting = func.min(POSTINGS.c.id).label("first_posting")
    query = select(POSTINGS.c.entry_id, first_posting).where(POSTINGS.c.account_id.in_(own))
    if before is not None:
        query = query.where(POSTINGS.c.id < int(before))
    query = query.group_by(POSTINGS.c.entry_id).order_by(first_posting.desc()).limit(limit + 1)
    found = (await uow.connection.execute(query)).all()
    page = found[:limit]
    if not page:
        return StatementPage((), None)
    page_ids = [row.entry_id for row in page]

    lines = await _lines(uow, owner_id, page_ids)
    cursor = str(page[-1].first_posting) if len(found) > limit else None
    return StatementPage(tuple(lines), cursor)


async def lines_between(uow: UnitOfWork, owner_id: UUID, start: datetime, end: datetime) -> list[StatementLine]:
    """The investor's entries from `start` up to (not including) `end`, oldest first (a monthly statement, an
    export)."""
    own = select(ACCOUNTS.c.id).where(ACCOUNTS.c.owner_id == owner_id)
    query = (
        select(POSTINGS.c.entry_id, func.min(POSTINGS.c.id).label("first_posting"))
        .join(ENTRIES, ENTRIES.c.id == POSTINGS.c.entry_id)
        .where(POSTINGS.c.account_id.in_(own), ENTRIES.c.created_at >= start, ENTRIES.c.created_at < end)
        .group_by(POSTINGS.c.entry_id)
        .order_by(func.min(POSTINGS.c.id))
    )
    ids = [row.entry_id for row in await uow.connection.execute(query)]
    return list(reversed(await _lines(uow, owner_id, ids))) if ids else []


async def balances_at(uow: UnitOfWork, owner_id: UUID, moment: datetime) -> dict[tuple[AccountKind, Asset], Decimal]:
    """Each of the investor's own accounts' balance just before `moment` (copies' sleeves left out)."""
    last = (
        select(POSTINGS.c.account_id, func.max(POSTINGS.c.id).label("posting_id"))
        .join(ENTRIES, ENTRIES.c.id == POSTINGS.c.entry_id)
        .join(ACCOUNTS, ACCOUNTS.c.id == POSTINGS.c.account_id)
        .where(ACCOUNTS.c.owner_id == owner_id, ACCOUNTS.c.sleeve_id.is_(None), ENTRIES.c.created_at < moment)
        .group_by(POSTINGS.c.account_id)
    ).subquery()
    query = (
        select(ACCOUNTS.c.kind, ACCOUNTS.c.currency, ACCOUNTS.c.instrument_id, POSTINGS.c.balance_after)
        .join(last, last.c.posting_id == POSTINGS.c.id)
        .join(ACCOUNTS, ACCOUNTS.c.id == POSTINGS.c.account_id)
    )
    return {
        (AccountKind(row.kind), Asset(row.currency, row.instrument_id)): row.balance_after
        for row in await uow.connection.execute(query)
    }


async def _lines(uow: UnitOfWork, owner_id: UUID, entry_ids: list[UUID]) -> list[StatementLine]:
    """The entries' lines with the investor's changes, newest first."""
    rows = await uow.connection.execute(
        select(
            ENTRIES.c.id,
            ENTRIES.c.created_at,
            ENTRIES.c.kind,
            ENTRIES.c.memo,
            POSTINGS.c.amount,
            POSTINGS.c.balance_after,
            ACCOUNTS.c.kind.label("account_kind"),
            ACCOUNTS.c.currency,
            ACCOUNTS.c.instrument_id,
            ACCOUNTS.c.sleeve_id,
        )
        .join(POSTINGS, POSTINGS.c.entry_id == ENTRIES.c.id)
        .join(ACCOUNTS, ACCOUNTS.c.id == POSTINGS.c.account_id)
        .where(ENTRIES.c.id.in_(entry_ids), ACCOUNTS.c.owner_id == owner_id)
        .order_by(POSTINGS.c.id.desc())  # newest entry first; each line's changes are put back in order below
    )
    lines: dict[UUID, StatementLine] = {}
    for row in rows:
        kind = AccountKind(row.account_kind)
        asset, amount = Asset(row.currency, row.instrument_id), balance_change(kind, row.amount)
        change = Change(asset, kind, amount, row.balance_after, row.sleeve_id is not None)
        line = lines.get(row.id) or StatementLine(row.id, row.created_at, row.kind, row.memo, ())
        lines[row.id] = StatementLine(line.entry_id, line.at, line.kind, line.memo, (change, *line.changes))
    return list(lines.values())
