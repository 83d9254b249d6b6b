"""Checks that the books are whole, read from the database: what tests assert after every step and what the
reconciliation job will run on a schedule.

- every asset's postings sum to zero (nothing created or destroyed), in each entry on its own as in all of
  them (two unbalanced entries could cancel out in the sum);
- every account's cached balance equals the sum of its postings, seen on its normal side;
- every account's held amount equals what its pending holds have left;
- no account that may not go negative is below zero (below its credit line, for a margin investor's cash), in
  balance or in available balance.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, select

from core.db import UnitOfWork

from .accounts import KIND_POLICY, AccountKind, Asset, balance_change
from .holds import HoldStatus
from .store import ACCOUNTS, HOLDS, POSTINGS


async def check_books(uow: UnitOfWork) -> list[str]:
    """What is wrong with the books, one sentence each; an empty list when they are whole."""
    per_asset = await uow.session.execute(
        select(ACCOUNTS.c.currency, ACCOUNTS.c.instrument_id, func.sum(POSTINGS.c.amount).label("total"))
        .join(ACCOUNTS, ACCOUNTS.c.id == POSTINGS.c.account_id)
        .group_by(ACCOUNTS.c.currency, ACCOUNTS.c.instrument_id)
    )
    problems = [
        f"postings in {Asset(row.currency, row.instrument_id)} sum to {row.total}, not zero"
        for row in per_asset
        if row.total != 0
    ]
    per_entry = await uow.session.execute(
        select(POSTINGS.c.entry_id, ACCOUNTS.c.currency, ACCOUNTS.c.instrument_id, func.sum(POSTINGS.c.amount))
        .join(ACCOUNTS, ACCOUNTS.c.id == POSTINGS.c.account_id)
        .group_by(POSTINGS.c.entry_id, ACCOUNTS.c.currency, ACCOUNTS.c.instrument_id)
        .having(func.sum(POSTINGS.c.amount) != 0)
    )
    problems += [
        f"entry {entry_id}: its postings in {Asset(currency, instrument_id)} sum to {total}, not zero"
        for entry_id, currency, instrument_id, total in per_entry
    ]

    sums = await uow.session.execute(
        select(POSTINGS.c.account_id, func.sum(POSTINGS.c.amount).label("total")).group_by(POSTINGS.c.account_id)
    )
    posted = {row.account_id: row.total for row in sums}
    held: dict[UUID, Decimal] = defaultdict(Decimal)
    pending = await uow.session.execute(
        select(HOLDS.c.account_id, HOLDS.c.amount, HOLDS.c.posted, HOLDS.c.released).where(
            HOLDS.c.status == HoldStatus.PENDING.value
        )
    )
    for hold in pending:
        held[hold.account_id] += hold.amount - hold.posted - hold.released

    for account in await uow.session.execute(select(ACCOUNTS)):
        kind = AccountKind(account.kind)
        expected = balance_change(kind, posted.get(account.id, Decimal(0)))
        if account.balance != expected:
            problems.append(f"account {account.code}: cached balance {account.balance}, postings say {expected}")
        if account.held != held[account.id]:
            problems.append(f"account {account.code}: held {account.held}, pending holds say {held[account.id]}")
        floor = -account.credit_line
        if not KIND_POLICY[kind].may_go_negative and min(account.balance, account.balance - account.held) < floor:
            problems.append(
                f"account {account.code} is below its floor {floor}: balance {account.balance}, held {account.held}"
            )
    return problems
