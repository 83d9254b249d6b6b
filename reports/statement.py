"""The monthly statement of an investor's own book, from the ledger alone: cash at the start and the end of the
month, each movement with the cash after it, the money in and out by kind, and the shares held at the end.
Copies keep books of their own (moves to and from them show as movements here). Months are New York months,
the trading calendar's."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from uuid import UUID

from core.calendar import NEW_YORK
from core.db import UnitOfWork
from ledger.accounts import AccountKind, Asset
from ledger.instruments import symbols_of
from ledger.money import ZERO
from ledger.statement import StatementLine, balances_at, lines_between

CASH = (AccountKind.INVESTOR_CASH, Asset.cash())


@dataclass(frozen=True)
class Movement:
    at: datetime
    kind: str
    memo: str
    cash: Decimal  # the change of the investor's own cash
    cash_after: Decimal
    shares: tuple[tuple[str, Decimal], ...]  # (symbol, change) of their own positions


@dataclass(frozen=True)
class MonthlyStatement:
    month: date  # its first day
    opening_cash: Decimal
    closing_cash: Decimal
    movements: tuple[Movement, ...]
    by_kind: tuple[tuple[str, Decimal], ...]  # the month's cash changes summed per kind of movement
    closing_shares: tuple[tuple[str, Decimal], ...]


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime.combine(month.replace(day=1), time(), NEW_YORK)
    following = (month.replace(day=28) + (month.replace(day=28) - month.replace(day=1)).__class__(days=4)).replace(
        day=1
    )
    return start.astimezone(UTC), datetime.combine(following, time(), NEW_YORK).astimezone(UTC)


async def monthly_statement(uow: UnitOfWork, owner_id: UUID, month: date) -> MonthlyStatement:
    start, end = month_bounds(month)
    opening = (await balances_at(uow, owner_id, start)).get(CASH, ZERO)
    closing = await balances_at(uow, owner_id, end)
    lines = await lines_between(uow, owner_id, start, end)
    symbols = await symbols_of(uow, {a.con_id for _k, a in closing if a.con_id} | _instruments(lines))
    movements: list[Movement] = []
    by_kind: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
    cash = opening
    for line in lines:
        own = [change for change in line.changes if not change.in_copy]
        moved = sum((c.amount for c in own if (c.kind, c.asset) == CASH), ZERO)
        cash = next((c.balance_after for c in own if (c.kind, c.asset) == CASH), cash)
        shares = tuple(
            (symbols.get(c.asset.con_id or 0, "?"), c.amount)
            for c in own
            if c.kind is AccountKind.INVESTOR_POSITION and c.amount
        )
        if moved or shares:
            movements.append(Movement(line.at, line.kind, line.memo, moved, cash, shares))
            by_kind[line.kind] += moved
    held = tuple(
        sorted(
            (symbols.get(asset.con_id, "?"), balance)
            for (kind, asset), balance in closing.items()
            if kind is AccountKind.INVESTOR_POSITION and asset.con_id and balance
        )
    )
    return MonthlyStatement(
        month.replace(day=1), opening, closing.get(CASH, ZERO), tuple(movements), tuple(sorted(by_kind.items())), held
    )


async def transactions_csv(uow: UnitOfWork, owner_id: UUID, start: datetime, end: datetime) -> str:
    """Every change of the investor's accounts between two moments, one row each, oldest first: for a
    spreadsheet or a tax adviser. Amounts as plain decimals, times in UTC."""
    lines = await lines_between(uow, owner_id, start, end)
    symbols = await symbols_of(uow, _instruments(lines))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time_utc", "entry_id", "kind", "memo", "book", "asset", "change", "balance_after"])
    for line in lines:
        for change in line.changes:
            asset = symbols.get(change.asset.con_id, "?") if change.asset.con_id else change.asset.currency
            book = "copy" if change.in_copy else "own"
            writer.writerow([
                line.at.astimezone(UTC).isoformat(), line.entry_id, line.kind, line.memo, book, asset,
                f"{change.amount.normalize():f}", f"{change.balance_after.normalize():f}",
            ])  # fmt: skip
    return out.getvalue()


def _instruments(lines: list[StatementLine]) -> set[int]:
    return {c.asset.con_id for line in lines for c in line.changes if c.asset.con_id}
