"""An investor's statement: their entries, newest first, a page at a time.

Pages are cut by keyset (the entry id, which is time-ordered), so a page stays the same however many entries
arrive meanwhile, and reading page 1,000 costs what reading page 1 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select

from core.db import UnitOfWork

from .accounts import AccountKind, Asset, balance_change
from .store import ACCOUNTS, ENTRIES, POSTINGS


@dataclass(frozen=True)
class Change:
    asset: Asset
    kind: AccountKind
    amount: Decimal  # the change of the investor's balance (positive: more cash or shares)
    balance_after: Decimal


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
    query = select(POSTINGS.c.entry_id).where(POSTINGS.c.account_id.in_(own))
    if before is not None:
        query = query.where(POSTINGS.c.entry_id < UUID(before))
    query = query.group_by(POSTINGS.c.entry_id).order_by(POSTINGS.c.entry_id.desc()).limit(limit + 1)
    entry_ids = list((await uow.session.scalars(query)).all())
    page_ids = entry_ids[:limit]
    if not page_ids:
        return StatementPage((), None)

    rows = await uow.session.execute(
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
        )
        .join(POSTINGS, POSTINGS.c.entry_id == ENTRIES.c.id)
        .join(ACCOUNTS, ACCOUNTS.c.id == POSTINGS.c.account_id)
        .where(ENTRIES.c.id.in_(page_ids), ACCOUNTS.c.owner_id == owner_id)
        .order_by(ENTRIES.c.id.desc(), POSTINGS.c.id)
    )
    lines: dict[UUID, StatementLine] = {}
    for row in rows:
        kind = AccountKind(row.account_kind)
        change = Change(
            Asset(row.currency, row.instrument_id), kind, balance_change(kind, row.amount), row.balance_after
        )
        line = lines.get(row.id) or StatementLine(row.id, row.created_at, row.kind, row.memo, ())
        lines[row.id] = StatementLine(line.entry_id, line.at, line.kind, line.memo, (*line.changes, change))
    cursor = str(page_ids[-1]) if len(entry_ids) > limit else None
    return StatementPage(tuple(lines.values()), cursor)
